import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { parseJsonExact } from '@kvindex/core';
import { prepareRequest, SimEngine } from '@kvindex/simulator';
import { VllmZmqPublisher } from '@kvindex/transport';
import { DATA_PLANE_PORT, INDEXER_LABEL } from '../../src/desired/indexer-children.ts';
import { workerIdOf } from '../../src/desired/worker-id.ts';

// The kubelet's part for tests: indexer pods (made by the real ReplicaSet controller) get a real
// data-plane process bound to a loopback address of their own, then Running/Ready with that podIP;
// worker pods get a simulated vLLM engine whose PUB socket is bound at <podIP>:5557.

const repoRoot = resolve(import.meta.dirname, '../../../..');
const dataPlaneMain = join(repoRoot, 'apps/data-plane/src/main.ts');
export const KV_EVENTS_PORT = 5557;
export const BLOCK_SIZE = 16;

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await delay(everyMs);
  }
}

function runningStatus(ip: string, container: string, restartCount: number, ready: boolean): V1Pod['status'] {
  return {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [
      { name: container, image: container, imageID: '', ready, restartCount, started: true },
    ],
  };
}

export interface IndexerProcess {
  pod: string;
  uid: string;
  ip: string;
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Runs a data-plane process for every indexer pod of the namespace; stops it when the pod goes. */
export class FakeKubelet {
  readonly indexers = new Map<string, IndexerProcess>();
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly logDir: string;
  private nextIp: number;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private readonly starting = new Set<string>();

  constructor(core: CoreV1Api, namespace: string, logDir: string, ipBase = 10) {
    this.core = core;
    this.namespace = namespace;
    this.logDir = logDir;
    this.nextIp = ipBase;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          await this.sync();
        } catch {}
        await delay(100);
      }
    })();
  }

  private async sync(): Promise<void> {
    const pods = (
      await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: INDEXER_LABEL })
    ).items;
    const live = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      if (pod.metadata?.deletionTimestamp) continue;
      live.add(uid);
      if (this.indexers.has(uid) || this.starting.has(uid)) continue;
      this.starting.add(uid);
      // A pod deleted while its process starts (or a stopped kubelet) only loses that process.
      void this.launch(pod)
        .catch(() => {})
        .finally(() => this.starting.delete(uid));
    }
    for (const [uid, p] of this.indexers) {
      if (live.has(uid)) continue;
      this.indexers.delete(uid);
      p.child.kill('SIGTERM');
    }
  }

  private async launch(pod: V1Pod): Promise<void> {
    const ip = `127.0.9.${this.nextIp++}`;
    const name = pod.metadata!.name!;
    const log = join(this.logDir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        dataPlaneMain,
        '--host',
        ip,
        '--port',
        String(DATA_PLANE_PORT),
        '--demo',
        'off',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const url = `http://${ip}:${DATA_PLANE_PORT}`;
    const proc: IndexerProcess = { pod: name, uid: pod.metadata!.uid!, ip, url, child, exited };
    try {
      await waitFor(`data plane of ${name}`, async () => (await fetch(`${url}/readyz`)).ok, 30_000, 50);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${String(err)}\n${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    try {
      if (this.stopped) throw new Error('kubelet stopped');
      const fresh = await this.core.readNamespacedPod({ name, namespace: this.namespace });
      await this.core.replaceNamespacedPodStatus({
        name,
        namespace: this.namespace,
        body: { ...fresh, status: runningStatus(ip, 'indexer', 0, true) },
      });
      this.indexers.set(proc.uid, proc);
    } catch (err) {
      child.kill('SIGTERM');
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    // Launches in flight end (and kill their process) once they see `stopped`.
    await waitFor('launches to settle', () => this.starting.size === 0, 40_000, 50);
    for (const p of this.indexers.values()) p.child.kill('SIGTERM');
    await Promise.all([...this.indexers.values()].map((p) => p.exited));
    this.indexers.clear();
  }
}

/** A worker pod with a simulated vLLM engine publishing KV events on <podIP>:5557. */
export class SimWorker {
  readonly name: string;
  readonly ip: string;
  readonly workerId: bigint;
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private publisher: VllmZmqPublisher | undefined;
  private engine: SimEngine;
  restartCount = 0;
  private requests = 0;

  private constructor(core: CoreV1Api, namespace: string, name: string, ip: string) {
    this.core = core;
    this.namespace = namespace;
    this.name = name;
    this.ip = ip;
    this.workerId = workerIdOf(namespace, name, undefined) as bigint;
    this.engine = this.newEngine();
  }

  private newEngine(): SimEngine {
    return new SimEngine({ workerId: this.workerId, capacity: 4096, blockSize: BLOCK_SIZE });
  }

  /** Creates the pod, binds the engine's PUB socket, and marks the pod Running and Ready. */
  static async start(
    core: CoreV1Api,
    namespace: string,
    name: string,
    ip: string,
    labels: Record<string, string>,
  ): Promise<SimWorker> {
    const w = new SimWorker(core, namespace, name, ip);
    w.publisher = await VllmZmqPublisher.bind({
      endpoint: `tcp://${ip}:${KV_EVENTS_PORT}`,
      replayEndpoint: null,
    });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, labels },
        spec: {
          containers: [
            {
              name: 'engine',
              image: 'vllm/vllm-openai',
              args: [
                '--kv-events-config',
                `{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:${KV_EVENTS_PORT}"}`,
              ],
              ports: [{ name: 'kv-events', containerPort: KV_EVENTS_PORT }],
            },
          ],
        },
      },
    });
    await w.setReady(true);
    return w;
  }

  async setReady(ready: boolean): Promise<void> {
    const pod = await this.core.readNamespacedPod({ name: this.name, namespace: this.namespace });
    await this.core.replaceNamespacedPodStatus({
      name: this.name,
      namespace: this.namespace,
      body: { ...pod, status: runningStatus(this.ip, 'engine', this.restartCount, ready) },
    });
  }

  /** Serves one request of `blocks` full blocks (prefix id `prefix`) and publishes what it stored. */
  async serve(prefix: number, blocks: number): Promise<Uint32Array> {
    const req = prepareRequest(
      { timestamp: 0, inputLength: blocks * BLOCK_SIZE, outputLength: 1, hashIds: [prefix] },
      BLOCK_SIZE,
      this.requests++,
    );
    const out = this.engine.handle(req);
    if (out.stored) {
      await this.publisher!.publish([
        {
          type: 'BlockStored',
          block_hashes: out.stored.blockHashes,
          parent_block_hash: out.stored.parentHash,
          token_ids: out.stored.tokenIds,
          block_size: BLOCK_SIZE,
        },
      ]);
    }
    return req.tokens;
  }

  /** The engine container restarts: a new process (empty cache, fresh seq) and restartCount+1. */
  async restartEngine(): Promise<void> {
    await this.publisher?.close();
    this.engine = this.newEngine();
    this.requests = 0;
    this.publisher = await bindWhenFree(`tcp://${this.ip}:${KV_EVENTS_PORT}`);
    this.restartCount++;
    await this.setReady(true);
  }

  async delete(): Promise<void> {
    await this.core.deleteNamespacedPod({
      name: this.name,
      namespace: this.namespace,
      gracePeriodSeconds: 0,
    });
    await this.close();
  }

  async close(): Promise<void> {
    await this.publisher?.close();
    this.publisher = undefined;
  }
}

/** `POST /query` on one indexer: worker id → matched blocks (all ranks). */
export async function scores(url: string, model: string, tokens: Uint32Array): Promise<Map<bigint, number>> {
  const res = await fetch(`${url}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token_ids: [...tokens], model_name: model }),
  });
  const out = new Map<bigint, number>();
  if (res.status === 404) return out;
  const body = parseJsonExact(await res.text()) as {
    scores: Record<string, Record<string, bigint | number>>;
  };
  for (const [id, ranks] of Object.entries(body.scores)) {
    out.set(
      BigInt(id),
      Object.values(ranks).reduce<number>((a, b) => a + Number(b), 0),
    );
  }
  return out;
}

/**
 * The instance ids an indexer is subscribed to (`GET /workers`) with every listener connected
 * (`active`): what an engine publishes from then on reaches the index. A registered listener is
 * `pending` until its socket connects in the ingest worker thread; the simulated engines here have
 * no replay endpoint, so a batch published before that is lost, as with a real engine.
 */
export async function subscribedWorkers(url: string): Promise<bigint[]> {
  const res = await fetch(`${url}/workers`);
  const body = parseJsonExact(await res.text()) as Array<{ instance_id: bigint | number; status: string }>;
  const active = body.filter((w) => w.status === 'active');
  return [...new Set(active.map((w) => BigInt(w.instance_id)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * ZMQ releases a closed socket's port on its I/O thread, after close() returns; a restarted
 * engine binding the same port retries until it is free, as a new process would have to.
 */
async function bindWhenFree(endpoint: string, deadlineMs = 5000): Promise<VllmZmqPublisher> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await VllmZmqPublisher.bind({ endpoint, replayEndpoint: null });
    } catch (err) {
      if (Date.now() > until || !/address already in use/i.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
