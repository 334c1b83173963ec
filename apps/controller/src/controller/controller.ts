import type { KubeConfig, KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { stringifyJsonExact, xxh3_64_utf8 } from '@kvindex/core';
import type { Logger } from 'pino';
import { API_VERSION, type IndexerDeployment, KIND, PLURAL } from '../api/indexer-deployment.ts';
import { DELETION_COST_ANNOTATION, deletionCostPatches } from '../desired/deletion-cost.ts';
import { type DesiredModel, desiredState } from '../desired/desired-state.ts';
import type { InferencePoolView } from '../desired/discover-workers.ts';
import { INDEXER_DEPLOYMENT_LABEL, MANAGED_BY } from '../desired/indexer-children.ts';
import { labelValue } from '../desired/names.ts';
import { KubeApiError, KubeClient, objectPath } from '../kube/client.ts';
import { type Informer, startInformer } from '../kube/informer.ts';
import { WorkQueue } from '../queue/work-queue.ts';
import type { ConditionUpdate } from '../status/conditions.ts';
import { buildStatus, type ModelObservation, sameStatus } from '../status/status.ts';
import { putWorkerSet, readModels } from './indexer-client.ts';
import type { ControllerMetrics } from './metrics.ts';
import { isOwnedBy, keyOf, keysForPod, ownerKey, splitKey } from './owners.ts';

// The IndexerDeployment reconciler: informers feed a work queue of keys; one reconcile reads the
// caches, computes desired state (a pure function), server-side applies the children, sends each
// ready indexer replica the model's full worker set, and writes status. Level-triggered: any
// reconcile converges from whatever the cluster looks like, so a missed event costs a resync.

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  metrics: ControllerMetrics;
  /** The data-plane image for indexers whose spec names none. */
  indexerImage: string;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  /** Every key is reconciled, every feed re-sent and every child re-applied this often. */
  resyncMs: number;
  /** Concurrent reconciles (different keys). */
  workers: number;
  /** Timeout of each HTTP call to an indexer replica. */
  indexerTimeoutMs: number;
  /** Watch InferencePools for spec.workers.poolRef (default true). */
  watchInferencePools?: boolean;
  /** How often to look for the InferencePool CRD while it is absent. */
  poolDiscoveryMs?: number;
}

const POOL_API = 'inference.networking.k8s.io/v1';
const HASH_ANNOTATION = 'kvindex.io/applied-hash';

interface InferencePool extends KubernetesObject {
  spec?: { selector?: { matchLabels?: Record<string, string> }; targetPorts?: { number: number }[] };
}

interface KeyState {
  /** url → what was last applied there. */
  sent: Map<string, { generation: string; peers: string; at: number }>;
  restarts: Map<string, number>;
  lastFullApply: number;
}

export class Controller {
  private readonly o: ControllerOptions;
  readonly client: KubeClient;
  readonly queue = new WorkQueue<string>();
  private readonly log: Logger;
  private idxds!: Informer<IndexerDeployment>;
  private pods!: Informer<V1Pod>;
  private children: Array<{ informer: Informer<KubernetesObject>; apiVersion: string; plural: string }> = [];
  private pools: Informer<InferencePool> | undefined;
  private readonly podKeys = new Map<string, string[]>();
  private readonly state = new Map<string, KeyState>();
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private workersDone: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.o = options;
    this.log = options.logger;
    this.client = new KubeClient(options.kubeConfig);
    this.client.onRequest = (verb, status) => options.metrics.apiRequests.inc({ verb, code: String(status) });
  }

  private path(apiVersion: string, plural: string): string {
    return objectPath(apiVersion, plural, this.o.namespace);
  }

  private informer<T extends KubernetesObject>(
    name: string,
    apiVersion: string,
    plural: string,
    onChange: (obj: T, kind: 'add' | 'update' | 'delete') => void,
    labelSelector?: string,
  ): Informer<T> {
    const inf = startInformer<T>({
      name,
      kubeConfig: this.o.kubeConfig,
      client: this.client,
      path: this.path(apiVersion, plural),
      ...(labelSelector ? { labelSelector } : {}),
      onChange,
      logger: this.log,
    });
    let seen = { errors: 0, lists: 0 };
    const t = setInterval(() => {
      if (inf.errors > seen.errors)
        this.o.metrics.watchErrors.inc({ informer: name }, inf.errors - seen.errors);
      if (inf.lists > seen.lists) this.o.metrics.lists.inc({ informer: name }, inf.lists - seen.lists);
      seen = { errors: inf.errors, lists: inf.lists };
    }, 200);
    t.unref();
    this.timers.push(t);
    return inf;
  }

  /** Starts the informers (a standby keeps warm caches); reconciling starts with startWorkers(). */
  startInformers(): void {
    const lastGeneration = new Map<string, number | undefined>();
    this.idxds = this.informer<IndexerDeployment>('indexerdeployments', API_VERSION, PLURAL, (o, kind) => {
      const key = keyOf(o);
      // Status writes (ours) do not change the generation: reconciling on them would loop.
      if (
        kind === 'update' &&
        lastGeneration.get(key) === o.metadata.generation &&
        !o.metadata.deletionTimestamp
      )
        return;
      lastGeneration.set(key, o.metadata.generation);
      if (kind === 'delete') lastGeneration.delete(key);
      this.queue.add(key);
    });
    this.pods = this.informer<V1Pod>('pods', 'v1', 'pods', (pod, kind) => {
      const uid = pod.metadata?.uid ?? keyOf(pod);
      const before = this.podKeys.get(uid) ?? [];
      const now = keysForPod(
        pod,
        this.idxds.list(pod.metadata?.namespace),
        (ns, name) => this.poolView(ns, name)?.selector,
      );
      if (kind === 'delete' || now.length === 0) this.podKeys.delete(uid);
      else this.podKeys.set(uid, now);
      for (const k of new Set([...before, ...now])) this.queue.add(k);
    });
    const managed = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
    const onChild = (o: KubernetesObject) => {
      const key = ownerKey(o);
      if (key) this.queue.add(key);
    };
    for (const [apiVersion, plural] of [
      ['apps/v1', 'deployments'],
      ['v1', 'services'],
      ['autoscaling/v2', 'horizontalpodautoscalers'],
    ] as const) {
      this.children.push({
        informer: this.informer(plural, apiVersion, plural, onChild, managed),
        apiVersion,
        plural,
      });
    }
    if (this.o.watchInferencePools !== false) void this.discoverPools();
  }

  /** Watches InferencePools once their CRD is served (it may be installed after the controller). */
  private async discoverPools(): Promise<void> {
    if (this.pools) return;
    try {
      const r = await this.client.request('GET', `/apis/${POOL_API}`);
      if (
        r.status === 200 &&
        JSON.parse(r.body).resources?.some((x: { name: string }) => x.name === 'inferencepools')
      ) {
        this.pools = this.informer<InferencePool>('inferencepools', POOL_API, 'inferencepools', (pool) => {
          for (const idxd of this.idxds.list(pool.metadata?.namespace)) {
            if (idxd.spec.workers.poolRef?.name === pool.metadata?.name) this.queue.add(keyOf(idxd));
          }
        });
        this.log.info('watching InferencePools');
        return;
      }
    } catch (err) {
      this.log.debug({ err: String(err) }, 'InferencePool discovery failed');
    }
    const t = setTimeout(() => void this.discoverPools(), this.o.poolDiscoveryMs ?? 30_000);
    t.unref();
    this.timers.push(t);
  }

  private poolView(namespace: string, name: string): InferencePoolView | undefined {
    const pool = this.pools?.get(name, namespace);
    if (!pool) return undefined;
    return {
      selector: pool.spec?.selector?.matchLabels ?? {},
      targetPorts: (pool.spec?.targetPorts ?? []).map((p) => p.number),
    };
  }

  async synced(): Promise<void> {
    await Promise.all([
      this.idxds.synced(),
      this.pods.synced(),
      ...this.children.map((c) => c.informer.synced()),
    ]);
  }

  isSynced(): boolean {
    return (
      this.idxds?.isSynced() && this.pods.isSynced() && this.children.every((c) => c.informer.isSynced())
    );
  }

  /** Leader only: waits for the caches, then reconciles every key and keeps resyncing. */
  async startWorkers(): Promise<void> {
    await this.synced();
    this.running = true;
    for (const idxd of this.idxds.list()) this.queue.add(keyOf(idxd));
    const resync = setInterval(() => {
      for (const idxd of this.idxds.list()) this.queue.add(keyOf(idxd));
    }, this.o.resyncMs);
    resync.unref();
    this.timers.push(resync);
    for (let i = 0; i < this.o.workers; i++) this.workersDone.push(this.work());
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.o.metrics.queueDepth.set(this.queue.len());
      const end = this.o.metrics.reconcileSeconds.startTimer();
      try {
        const requeueMs = await this.reconcile(key);
        this.queue.forget(key);
        if (requeueMs !== undefined) this.queue.addAfter(key, requeueMs);
        this.o.metrics.reconciles.inc({ result: requeueMs !== undefined ? 'requeue' : 'success' });
      } catch (err) {
        this.o.metrics.reconciles.inc({ result: 'error' });
        this.log.warn({ key, err: err instanceof Error ? err.message : String(err) }, 'reconcile failed');
        this.queue.addRateLimited(key);
      } finally {
        end();
        this.queue.done(key);
        this.o.metrics.queueDepth.set(this.queue.len());
      }
    }
  }

  /** One reconcile; returns a delay after which to look again (waiting on something), if any. */
  async reconcile(key: string): Promise<number | undefined> {
    const { namespace, name } = splitKey(key);
    const idxd = this.idxds.get(name, namespace);
    if (!idxd || idxd.metadata.deletionTimestamp) {
      // Children carry owner references: the garbage collector deletes them.
      this.state.delete(key);
      return undefined;
    }
    let state = this.state.get(key);
    if (!state) {
      state = { sent: new Map(), restarts: new Map(), lastFullApply: 0 };
      this.state.set(key, state);
    }
    const now = Date.now();
    const fullApply = now - state.lastFullApply >= this.o.resyncMs;
    const pods = this.pods.list(namespace);
    const poolRef = idxd.spec.workers.poolRef;
    const pool = poolRef ? (this.poolView(namespace, poolRef.name) ?? null) : undefined;
    const indexerPods = pods.filter(
      (p) => p.metadata?.labels?.[INDEXER_DEPLOYMENT_LABEL] === labelValue(name),
    );
    const desired = desiredState({
      idxd,
      pods,
      ...(pool !== undefined ? { pool } : {}),
      indexerPods,
      image: this.o.indexerImage,
    });

    await this.applyChildren(idxd, desired.models, fullApply);
    if (fullApply) state.lastFullApply = now;

    const observations = new Map<string, ModelObservation>();
    await Promise.all(
      desired.models.map(async (m) => observations.set(m.model, await this.feed(m, state, now))),
    );
    for (const f of state.sent.keys()) {
      if (!desired.models.some((m) => m.feeds.some((x) => x.url === f))) state.sent.delete(f);
    }

    if (idxd.spec.workerDeletionCost) await this.annotateDeletionCost(namespace, pods, observations);

    const { status, transitions } = buildStatus(idxd, desired, observations, new Date());
    if (!sameStatus(idxd.status, status)) {
      await this.client.mergePatch(
        `${objectPath(API_VERSION, PLURAL, namespace, name)}/status`,
        // metadata.resourceVersion is not sent: status is ours alone, last writer wins.
        { status },
      );
      // The informer will bring the new status; until then later reconciles compare with this one.
      idxd.status = status;
    }
    for (const t of transitions) await this.event(idxd, t);
    const feedErrors = [...observations.values()].some((o) => o.feedErrors.length > 0);
    if (feedErrors) throw new Error('some indexer replicas did not accept their worker set');
    const settling = status.conditions?.some((c) => c.type === 'Progressing' && c.status === 'True');
    return settling ? 1000 : undefined;
  }

  private async applyChildren(
    idxd: IndexerDeployment,
    models: DesiredModel[],
    force: boolean,
  ): Promise<void> {
    const { namespace } = idxd.metadata;
    const wanted = new Map<string, Set<string>>();
    const apply = async (obj: KubernetesObject, plural: string) => {
      const body = structuredClone(obj);
      const hash = xxh3_64_utf8(stringifyJsonExact(body), 0n).toString(16);
      body.metadata!.annotations = { ...body.metadata!.annotations, [HASH_ANNOTATION]: hash };
      const name = body.metadata!.name!;
      const set = wanted.get(plural) ?? new Set();
      set.add(name);
      wanted.set(plural, set);
      const cached = this.children.find((c) => c.plural === plural)?.informer.get(name, namespace);
      if (!force && cached?.metadata?.annotations?.[HASH_ANNOTATION] === hash) return;
      await this.client.apply(objectPath(obj.apiVersion!, plural, namespace, name), body);
    };
    for (const m of models) {
      await apply(m.deployment as V1Deployment, 'deployments');
      await apply(m.service, 'services');
      if (m.autoscaler) await apply(m.autoscaler, 'horizontalpodautoscalers');
    }
    // Children of models that are gone (or an HPA no longer asked for).
    for (const c of this.children) {
      for (const obj of c.informer.list(namespace)) {
        if (!isOwnedBy(obj, idxd) || wanted.get(c.plural)?.has(obj.metadata!.name!)) continue;
        this.log.info(
          { kind: c.plural, name: obj.metadata!.name },
          'deleting the child of a model that is gone',
        );
        await this.client.delete(objectPath(c.apiVersion, c.plural, namespace, obj.metadata!.name));
      }
    }
  }

  /** Sends changed (or due) worker sets to the model's ready replicas, then reads their state. */
  private async feed(m: DesiredModel, state: KeyState, now: number): Promise<ModelObservation> {
    const feedErrors: string[] = [];
    let restarted = 0;
    await Promise.all(
      m.feeds.map(async (f) => {
        const last = state.sent.get(f.url);
        const peers = f.body.peers.join(',');
        const generation = f.body.generation ?? '';
        if (last && last.generation === generation && last.peers === peers && now - last.at < this.o.resyncMs)
          return;
        try {
          const out = await putWorkerSet(f.url, f.body, this.o.indexerTimeoutMs);
          state.sent.set(f.url, { generation, peers, at: now });
          restarted = Math.max(restarted, out.restarted.length);
          this.o.metrics.feeds.inc({ result: 'success' });
          this.log.debug({ url: f.url, workers: f.body.workers.length, generation }, 'worker set applied');
        } catch (err) {
          state.sent.delete(f.url);
          this.o.metrics.feeds.inc({ result: 'error' });
          feedErrors.push(`${f.pod}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    if (restarted > 0) state.restarts.set(m.model, (state.restarts.get(m.model) ?? 0) + restarted);
    const reports = await Promise.all(
      m.feeds.map(async (f) => {
        const base = f.url.slice(0, f.url.indexOf('/v1/models/'));
        try {
          return { pod: f.pod, rows: await readModels(base, m.model, this.o.indexerTimeoutMs) };
        } catch (err) {
          return { pod: f.pod, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    return { reports, feedErrors, restartsDetected: state.restarts.get(m.model) ?? 0 };
  }

  /** spec.workerDeletionCost: worker pods carry a cost from the blocks the indexers hold for them. */
  private async annotateDeletionCost(
    namespace: string,
    pods: V1Pod[],
    observations: Map<string, ModelObservation>,
  ): Promise<void> {
    const blocks = new Map<bigint, number>();
    for (const o of observations.values()) {
      for (const r of o.reports) {
        if (!('rows' in r)) continue;
        const mine = new Map<bigint, number>();
        for (const row of r.rows) {
          for (const w of row.workers) {
            const id = BigInt(w.instance_id as bigint | number);
            const held = Object.values(w.blocks ?? {}).reduce((a, b) => a + b, 0);
            mine.set(id, (mine.get(id) ?? 0) + held);
          }
        }
        for (const [id, n] of mine) blocks.set(id, Math.max(blocks.get(id) ?? 0, n));
      }
    }
    for (const [pod, cost] of deletionCostPatches(namespace, pods, blocks)) {
      await this.client.mergePatch(objectPath('v1', 'pods', namespace, pod), {
        metadata: { annotations: { [DELETION_COST_ANNOTATION]: cost } },
      });
    }
  }

  private async event(idxd: IndexerDeployment, c: ConditionUpdate): Promise<void> {
    const bad = (c.type === 'Degraded' && c.status === 'True') || (c.type === 'Ready' && c.status !== 'True');
    const now = new Date().toISOString();
    try {
      await this.client.create(objectPath('v1', 'events', idxd.metadata.namespace), {
        metadata: { generateName: `${idxd.metadata.name}.`, namespace: idxd.metadata.namespace },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: KIND,
          name: idxd.metadata.name,
          namespace: idxd.metadata.namespace,
          uid: idxd.metadata.uid,
          resourceVersion: idxd.metadata.resourceVersion,
        },
        reason: c.reason,
        message: `${c.type}=${c.status}: ${c.message}`.slice(0, 1024),
        type: bad ? 'Warning' : 'Normal',
        source: { component: MANAGED_BY },
        reportingComponent: MANAGED_BY,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      this.log.warn({ err: err.message }, 'could not record an Event');
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.queue.shutDown();
    if (this.running) await Promise.all(this.workersDone);
    await Promise.all(
      [this.idxds, this.pods, this.pools, ...this.children.map((c) => c.informer)].map((i) => i?.stop()),
    );
  }
}
