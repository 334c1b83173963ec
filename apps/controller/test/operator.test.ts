import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Service,
} from '@kubernetes/client-node';
import { parseJsonExact } from '@kvindex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { indexerDeploymentCrd } from '../src/api/crd.ts';
import type { IndexerDeployment } from '../src/api/indexer-deployment.ts';
import { costOf } from '../src/desired/deletion-cost.ts';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';
import { type ControllerProcess, metric, startControllerProcess } from './support/controller-process.ts';
import { installCrd } from './support/crds.ts';
import { FakeKubelet, SimWorker, scores, subscribedWorkers, waitFor } from './support/fleet.ts';
import { chartDir } from './support/helm.ts';
import { inferencePoolCrd } from './support/inference-pool-crd.ts';

// The operator end to end: a real kube-apiserver + kube-controller-manager, kvindex-controller as a
// process, real data-plane processes behind the indexer pods and simulated vLLM engines behind the
// worker pods, all on loopback. The controller is the only thing that tells indexers about workers.

const ns = 'inference';
const model = 'llama';
const labels = { app: 'vllm', 'kvindex.io/model': model };
/** The chart example's name; its indexer Deployment and Service are <name>-<model>. */
const idxdName = 'llama-fleet';
const child = `${idxdName}-${model}`;
const sorted = (ids: bigint[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('IndexerDeployment operator against a real control plane', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let autoscalingApi: AutoscalingV2Api;
  let custom: CustomObjectsApi;
  let kubelet: FakeKubelet;
  let controller: ControllerProcess;
  const workers: SimWorker[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'kvindex-operator-'));
  let nextWorkerIp = 10;

  const addWorker = async (name: string) => {
    const w = await SimWorker.start(core, ns, name, `127.0.8.${nextWorkerIp++}`, labels);
    workers.push(w);
    return w;
  };
  /** The data planes behind the example CR's indexer pods. */
  const indexerUrls = () =>
    [...kubelet.indexers.values()]
      .filter((p) => p.pod.startsWith(`${child}-`))
      .map((p) => p.url)
      .sort();
  /** Waits until every indexer replica follows exactly `expected`. */
  const expectFollowed = async (expected: SimWorker[], replicas = 2) =>
    waitFor(
      `indexers to follow ${expected.map((w) => w.name).join(', ') || 'nothing'}`,
      async () => {
        const urls = indexerUrls();
        if (urls.length !== replicas) return false;
        const want = JSON.stringify(sorted(expected.map((w) => w.workerId)).map(String));
        for (const url of urls) {
          if (JSON.stringify((await subscribedWorkers(url)).map(String)) !== want) return false;
        }
        return true;
      },
      30_000,
    );
  const readIdxd = async (name: string) =>
    (await custom.getNamespacedCustomObject({
      group: 'kvindex.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'indexerdeployments',
      name,
    })) as IndexerDeployment;

  beforeAll(async () => {
    plane = await startControlPlane({ controllerManager: true });
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    autoscalingApi = plane.kubeConfig.makeApiClient(AutoscalingV2Api);
    custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    await installCrd(plane, indexerDeploymentCrd());
    await installCrd(plane, inferencePoolCrd);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    kubelet = new FakeKubelet(core, ns, logDir);
    kubelet.start();
    controller = await startControllerProcess(plane.kubeConfigFile, logDir, 'controller', [
      '--leader-elect=false',
      '--resync',
      '5',
    ]);
  }, 120_000);

  afterAll(async () => {
    await controller?.stop();
    await kubelet?.stop();
    await Promise.all(workers.map((w) => w.close()));
    await plane?.stop();
  }, 60_000);

  it('`kubectl apply -f` of the chart example: a Deployment and a Service with owner references, an indexer fed with the live workers, /query answers', async () => {
    const a = await addWorker('vllm-a');
    const b = await addWorker('vllm-b');
    // What `kubectl apply --server-side -f charts/kvindex/examples/indexerdeployment.yaml` sends.
    const example = parse(
      readFileSync(join(chartDir, 'examples/indexerdeployment.yaml'), 'utf8'),
    ) as IndexerDeployment;
    expect(example.metadata.namespace).toBe(ns);
    const applied = await plane.request(
      `/apis/kvindex.io/v1alpha1/namespaces/${ns}/indexerdeployments/${idxdName}?fieldManager=kubectl`,
      { method: 'PATCH', body: example, headers: { 'content-type': 'application/apply-patch+yaml' } },
    );
    expect(applied.status, applied.body).toBe(201);
    const created = JSON.parse(applied.body) as IndexerDeployment;

    const deployment: V1Deployment = await waitFor('the indexer Deployment', () =>
      apps.readNamespacedDeployment({ name: child, namespace: ns }),
    );
    const service: V1Service = await waitFor('the indexer Service', () =>
      core.readNamespacedService({ name: child, namespace: ns }),
    );
    for (const obj of [deployment, service]) {
      expect(obj.metadata?.ownerReferences).toEqual([
        expect.objectContaining({
          apiVersion: 'kvindex.io/v1alpha1',
          kind: 'IndexerDeployment',
          name: idxdName,
          uid: created.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        }),
      ]);
      expect(obj.metadata?.managedFields?.map((f) => f.manager)).toContain('kvindex-controller');
    }
    expect(deployment.spec?.replicas).toBe(1);
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.image).toBe('kvindex/data-plane:test');
    expect(container?.resources?.requests).toEqual({ cpu: '500m', memory: '1Gi' });
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(deployment.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);
    expect(service.spec?.selector).toEqual({ 'kvindex.io/indexer': child });

    // The ReplicaSet controller makes the pod; the fake kubelet runs a data plane behind it.
    await expectFollowed([a, b], 1);
    const tokens = await a.serve(1, 4);
    const [url] = indexerUrls();
    const s = await waitFor(`${url} to score vllm-a`, async () => {
      const m = await scores(url!, model, tokens);
      return (m.get(a.workerId) ?? 0) > 0 ? m : undefined;
    });
    expect(s.get(b.workerId) ?? 0).toBe(0);
    const status = await waitFor('status Ready', async () => {
      const st = (await readIdxd(idxdName)).status;
      const ready = st?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && st?.models?.[0]?.readyWorkers === 2 && (st.models[0].blocks ?? 0) > 0
        ? st
        : undefined;
    });
    expect(status.observedGeneration).toBe(created.metadata.generation);
    expect(status.models?.[0]).toMatchObject({ name: model, workers: 2, replicas: 1, readyReplicas: 1 });
    expect(status.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
    const events = await core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=${idxdName}`,
    });
    expect(events.items.map((e) => e.reason)).toContain('IndexersReady');
    expect(await metric(controller.url, 'kvindex_controller_reconciles_total')).toBeGreaterThan(0);
    expect(
      await metric(controller.url, 'kvindex_controller_worker_set_puts_total', 'result="success"'),
    ).toBeGreaterThan(0);
  }, 90_000);

  it('scales a model to spec.indexer.replicas.min: every replica follows every worker, the others as its peers', async () => {
    const [a, b] = workers as [SimWorker, SimWorker];
    await custom.patchNamespacedCustomObject(
      {
        group: 'kvindex.io',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'indexerdeployments',
        name: idxdName,
        body: { spec: { indexer: { replicas: { min: 2 } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('Deployment replicas 2', async () => {
      const d = await apps.readNamespacedDeployment({ name: child, namespace: ns });
      return d.spec?.replicas === 2;
    });
    await expectFollowed([a, b]);
    // Active-active: the new replica subscribed to the live engine too and answers for it.
    const tokens = await a.serve(5, 2);
    for (const url of indexerUrls()) {
      await waitFor(
        `${url} to score vllm-a`,
        async () => ((await scores(url, model, tokens)).get(a.workerId) ?? 0) > 0,
      );
    }
    await waitFor('peers', async () => {
      for (const p of kubelet.indexers.values()) {
        if (!p.pod.startsWith(`${child}-`)) continue;
        const peers = (await (await fetch(`${p.url}/peers`)).json()) as string[];
        if (JSON.stringify(peers) !== JSON.stringify(indexerUrls().filter((u) => u !== p.url))) return false;
      }
      return true;
    });
    const st = await waitFor('status with 2 ready replicas', async () => {
      const x = (await readIdxd(idxdName)).status;
      return x?.models?.[0]?.readyReplicas === 2 && x.observedGeneration === 2 ? x : undefined;
    });
    expect(st.models?.[0]).toMatchObject({ replicas: 2, readyReplicas: 2, workers: 2 });
  }, 60_000);

  it('misconfiguration is visible: Degraded with the reason, a Warning Event, the worker listed as failed', async () => {
    // An engine whose KV-event endpoint connects instead of binding: both sides would connect.
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'vllm-bad', labels },
        spec: {
          containers: [
            {
              name: 'engine',
              image: 'vllm/vllm-openai',
              args: [
                '--kv-events-config',
                '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://indexer:5557"}',
              ],
              ports: [{ name: 'kv-events', containerPort: 5557 }],
            },
          ],
        },
      },
    });
    const bad = await core.readNamespacedPod({ name: 'vllm-bad', namespace: ns });
    await core.replaceNamespacedPodStatus({
      name: 'vllm-bad',
      namespace: ns,
      body: {
        ...bad,
        status: { phase: 'Running', podIP: '127.0.8.250', conditions: [{ type: 'Ready', status: 'True' }] },
      },
    });
    const st = await waitFor('Degraded', async () => {
      const x = (await readIdxd(idxdName)).status;
      return x?.conditions?.find((c) => c.type === 'Degraded')?.status === 'True' ? x : undefined;
    });
    expect(st.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ reason: 'EngineConnects' });
    expect(st.failedWorkers).toEqual([
      expect.objectContaining({ pod: 'vllm-bad', reason: 'EngineConnects' }),
    ]);
    const warnings = await waitFor('a Warning Event', async () => {
      const ev = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: `involvedObject.name=${idxdName}`,
      });
      const w = ev.items.filter((e) => e.type === 'Warning' && e.reason === 'EngineConnects');
      return w.length > 0 ? w : undefined;
    });
    expect(warnings[0]?.message).toContain('vllm-bad');
    await core.deleteNamespacedPod({ name: 'vllm-bad', namespace: ns, gracePeriodSeconds: 0 });
    await waitFor('Degraded cleared', async () => {
      const x = (await readIdxd(idxdName)).status;
      return x?.conditions?.find((c) => c.type === 'Degraded')?.status === 'False';
    });
  }, 60_000);

  it('worker pods come and go: every indexer follows exactly the live set', async () => {
    const [a, b] = workers as [SimWorker, SimWorker];
    const c = await addWorker('vllm-c');
    await expectFollowed([a, b, c]);
    const tokens = await c.serve(2, 3);
    for (const url of indexerUrls()) {
      await waitFor(
        `${url} to score vllm-c`,
        async () => ((await scores(url, model, tokens)).get(c.workerId) ?? 0) > 0,
      );
    }
    await b.delete();
    await expectFollowed([a, c]);
  }, 60_000);

  it('an engine restart (restartCount+1) clears the worker, which is then rebuilt', async () => {
    const a = workers[0]!;
    const tokens = await a.serve(3, 5);
    const url = indexerUrls()[0]!;
    await waitFor(
      'vllm-a blocks before the restart',
      async () => ((await scores(url, model, tokens)).get(a.workerId) ?? 0) > 0,
    );
    await a.restartEngine();
    for (const u of indexerUrls()) {
      await waitFor(`${u} to clear vllm-a`, async () => !(await scores(u, model, tokens)).has(a.workerId));
    }
    const again = await a.serve(3, 5);
    for (const u of indexerUrls()) {
      await waitFor(
        `${u} to rebuild vllm-a`,
        async () => ((await scores(u, model, again)).get(a.workerId) ?? 0) > 0,
      );
    }
    const s = await waitFor('restartsDetected in status', async () => {
      const m = (await readIdxd(idxdName)).status?.models?.[0];
      return (m?.restartsDetected ?? 0) >= 1 ? m : undefined;
    });
    expect(s.restartsDetected).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a worker pod that goes NotReady is unsubscribed, and followed again when Ready', async () => {
    const [a, , c] = workers as [SimWorker, SimWorker, SimWorker];
    await c.setReady(false);
    await expectFollowed([a]);
    await c.setReady(true);
    await expectFollowed([a, c]);
  }, 60_000);

  it('spec.workerDeletionCost annotates worker pods from the blocks the indexers hold for them', async () => {
    const a = workers[0]!;
    const patchSpec = (workerDeletionCost: boolean) =>
      custom.patchNamespacedCustomObject(
        {
          group: 'kvindex.io',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'indexerdeployments',
          name: idxdName,
          body: { spec: { workerDeletionCost } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    // What the indexers hold for vllm-a (every replica holds the same; the controller takes the max).
    let held = 0;
    for (const url of indexerUrls()) {
      const body = parseJsonExact(await (await fetch(`${url}/v1/models`)).text()) as {
        models: { workers: { instance_id: bigint | number; blocks: Record<string, bigint | number> }[] }[];
      };
      for (const w of body.models.flatMap((m) => m.workers)) {
        if (BigInt(w.instance_id) !== a.workerId) continue;
        held = Math.max(
          held,
          Object.values(w.blocks).reduce<number>((x, y) => x + Number(y), 0),
        );
      }
    }
    expect(held).toBeGreaterThan(0);
    await patchSpec(true);
    const cost = await waitFor('vllm-a annotated', async () => {
      const pod = await core.readNamespacedPod({ name: a.name, namespace: ns });
      return pod.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
    });
    expect(cost).toBe(String(costOf(held)));
    await patchSpec(false);
  }, 30_000);

  it('recovers from an apiserver restart without a controller restart (watches relist after 410 Gone)', async () => {
    const lists = () => metric(controller.url, 'kvindex_controller_informer_lists_total');
    const before = await lists();
    await plane.restartApiserver();
    const d = await addWorker('vllm-d');
    const [a, , c] = workers as [SimWorker, SimWorker, SimWorker];
    await expectFollowed([a, c, d]);
    expect(controller.child.exitCode).toBeNull();
    // The new apiserver's watch cache starts past the informers' resourceVersions: 410, then a relist.
    const relists =
      (await waitFor('a relist', async () => ((await lists()) > before ? lists() : undefined))) - before;
    console.log(`informer relists after the apiserver restart: ${relists}`);
    expect(controller.log()).toContain('relisted');
  }, 90_000);

  it('a poolRef to an InferencePool discovers the same workers', async () => {
    await custom.createNamespacedCustomObject({
      group: 'inference.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'inferencepools',
      body: {
        apiVersion: 'inference.networking.k8s.io/v1',
        kind: 'InferencePool',
        metadata: { name: 'llama-pool' },
        spec: {
          selector: { matchLabels: { app: 'vllm' } },
          targetPorts: [{ number: 8000 }],
          endpointPickerRef: { name: 'epp' },
        },
      },
    });
    await custom.createNamespacedCustomObject({
      group: 'kvindex.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'indexerdeployments',
      body: {
        apiVersion: 'kvindex.io/v1alpha1',
        kind: 'IndexerDeployment',
        metadata: { name: 'by-pool' },
        spec: { workers: { poolRef: { name: 'llama-pool' } }, events: { zmq: { port: 'kv-events' } } },
      },
    });
    const [a, , c, d] = workers as [SimWorker, SimWorker, SimWorker, SimWorker];
    const want = JSON.stringify(sorted([a, c, d].map((w) => w.workerId)).map(String));
    const url = await waitFor(
      'the by-pool indexer to follow the pool',
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: ns,
          labelSelector: 'kvindex.io/indexer=by-pool-llama',
        });
        const proc = [...kubelet.indexers.values()].find((p) => p.pod === pods.items[0]?.metadata?.name);
        if (!proc) return undefined;
        return JSON.stringify((await subscribedWorkers(proc.url)).map(String)) === want
          ? proc.url
          : undefined;
      },
      30_000,
    );
    const tokens = await d.serve(4, 2);
    await waitFor(
      'the by-pool indexer to score vllm-d',
      async () => ((await scores(url, model, tokens)).get(d.workerId) ?? 0) > 0,
    );
  }, 60_000);

  it('asks for an HPA when spec.indexer.autoscaling is set, deletes it when unset; a vanished model loses its children', async () => {
    const autoscaling = custom.patchNamespacedCustomObject.bind(custom);
    const patch = (body: unknown) =>
      autoscaling(
        {
          group: 'kvindex.io',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'indexerdeployments',
          name: idxdName,
          body,
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await patch({ spec: { indexer: { autoscaling: { hpa: {} } } } });
    const hpa = await waitFor('the HPA', () =>
      autoscalingApi.readNamespacedHorizontalPodAutoscaler({ name: child, namespace: ns }),
    );
    expect(hpa.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 4,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: child },
    });
    expect(hpa.metadata?.ownerReferences?.[0]?.name).toBe(idxdName);
    await patch({ spec: { indexer: { autoscaling: null } } });
    await waitFor('the HPA deleted', async () => {
      const list = await autoscalingApi.listNamespacedHorizontalPodAutoscaler({ namespace: ns });
      return list.items.length === 0;
    });

    // A second model appears (one status-only engine pod) and goes: its Deployment and Service go too.
    const qwen = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'qwen-0', labels: { app: 'vllm', 'kvindex.io/model': 'qwen' } },
        spec: {
          containers: [
            {
              name: 'engine',
              image: 'vllm',
              args: [
                '--kv-events-config',
                '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557"}',
              ],
              ports: [{ name: 'kv-events', containerPort: 5557 }],
            },
          ],
        },
      },
    });
    await core.replaceNamespacedPodStatus({
      name: 'qwen-0',
      namespace: ns,
      body: {
        ...qwen,
        status: { phase: 'Running', podIP: '127.0.8.251', conditions: [{ type: 'Ready', status: 'True' }] },
      },
    });
    await waitFor('the qwen Deployment', () =>
      apps.readNamespacedDeployment({ name: `${idxdName}-qwen`, namespace: ns }),
    );
    // Applied right after its Deployment.
    await waitFor('the qwen Service', () =>
      core.readNamespacedService({ name: `${idxdName}-qwen`, namespace: ns }),
    );
    await core.deleteNamespacedPod({ name: 'qwen-0', namespace: ns, gracePeriodSeconds: 0 });
    await waitFor('the qwen children deleted', async () => {
      const deps = await apps.listNamespacedDeployment({ namespace: ns });
      const svcs = await core.listNamespacedService({ namespace: ns });
      const names = [...deps.items, ...svcs.items].map((o) => o.metadata?.name);
      return !names.includes(`${idxdName}-qwen`) && names.includes(child);
    });
  }, 60_000);

  it('deleting the CR removes its children (garbage collection through owner references)', async () => {
    for (const name of [idxdName, 'by-pool']) {
      await custom.deleteNamespacedCustomObject({
        group: 'kvindex.io',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'indexerdeployments',
        name,
      });
    }
    await waitFor(
      'children deleted',
      async () => {
        const deps = await apps.listNamespacedDeployment({ namespace: ns });
        const svcs = await core.listNamespacedService({ namespace: ns });
        return deps.items.length === 0 && svcs.items.length === 0;
      },
      30_000,
    );
    await waitFor('indexer processes stopped', () => kubelet.indexers.size === 0, 30_000);
  }, 60_000);
});
