// Controller scale on the real test control plane: N worker pods over M models (status-only pods, no
// engines), one fake indexer per model (an HTTP server on its own loopback address that records
// every worker set it is sent). Measures the time from a worker pod turning Ready to its indexer
// holding it, reconciles and apiserver requests per pod change (hot loops show up here), and the
// controller's memory.
//
//   node --conditions=source apps/controller/bench/scale.ts [--pods 2000] [--models 20] [--churn 50]

import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { parseModelWorkerSet, stringifyJsonExact } from '@kvindex/core';
import { indexerDeploymentCrd } from '../src/api/crd.ts';
import { DATA_PLANE_PORT, INDEXER_DEPLOYMENT_LABEL, INDEXER_LABEL } from '../src/desired/indexer-children.ts';
import { indexerName } from '../src/desired/names.ts';
import { workerIdOf } from '../src/desired/worker-id.ts';
import { startControlPlane } from '../test/support/control-plane.ts';
import { metric, startControllerProcess } from '../test/support/controller-process.ts';
import { installCrd } from '../test/support/crds.ts';
import { waitFor } from '../test/support/fleet.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '2000' },
    models: { type: 'string', default: '20' },
    churn: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '16' },
  },
});
const PODS = Number(values.pods);
const MODELS = Number(values.models);
const CHURN = Number(values.churn);
const CONCURRENCY = Number(values.concurrency);
const ns = 'scale';
const idxd = 'scale';

/** model → worker id → first time (ms) a PUT carried it; and the current set. */
const seen = new Map<string, Map<bigint, number>>();
const current = new Map<string, Set<bigint>>();
let puts = 0;

function fakeIndexer(ip: string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/v1\/models\/([^/]+)\/workers$/.exec(req.url ?? '');
      if (req.method === 'PUT' && m) {
        const at = Date.now();
        const model = decodeURIComponent(m[1]!);
        const set = parseModelWorkerSet(Buffer.concat(chunks).toString('utf8'));
        puts++;
        const firsts = seen.get(model) ?? new Map<bigint, number>();
        seen.set(model, firsts);
        const ids = new Set(set.workers.map((w) => w.instance_id));
        for (const id of ids) if (!firsts.has(id)) firsts.set(id, at);
        for (const id of firsts.keys()) if (!ids.has(id)) firsts.delete(id);
        current.set(model, ids);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"restarted":[]}');
      } else if (req.url === '/v1/models') {
        // Every worker of the last set counts as followed (status 'active'), as a healthy replica reports.
        const models = [...current].map(([model, ids]) => ({
          model_name: model,
          routing_group: 'default',
          blocks: { device: 0 },
          lag_seconds: null,
          gaps: 0,
          replays: 0,
          workers: [...ids].map((id) => ({ instance_id: id, dp_rank: 0, status: 'active' })),
        }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(stringifyJsonExact({ models }));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(DATA_PLANE_PORT, ip, () => resolve(server)));
}

async function pool<T>(items: T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

const plane = await startControlPlane();
const servers: Server[] = [];
let controller: Awaited<ReturnType<typeof startControllerProcess>> | undefined;
try {
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  await installCrd(plane, indexerDeploymentCrd());
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const models = Array.from({ length: MODELS }, (_, i) => `model-${i}`);

  // One ready indexer pod per model, served by a fake indexer.
  await pool(models, CONCURRENCY, async (model) => {
    const i = models.indexOf(model);
    const ip = `127.0.10.${i + 10}`;
    servers.push(await fakeIndexer(ip));
    const name = indexerName(idxd, model);
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: `${name}-0`, labels: { [INDEXER_LABEL]: name, [INDEXER_DEPLOYMENT_LABEL]: idxd } },
        spec: { containers: [{ name: 'indexer', image: 'kvindex/data-plane' }] },
      },
    });
    await core.replaceNamespacedPodStatus({
      name: `${name}-0`,
      namespace: ns,
      body: {
        ...pod,
        status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
      },
    });
  });
  await plane.request(`/apis/kvindex.io/v1alpha1/namespaces/${ns}/indexerdeployments`, {
    method: 'POST',
    body: {
      apiVersion: 'kvindex.io/v1alpha1',
      kind: 'IndexerDeployment',
      metadata: { name: idxd },
      spec: {
        workers: { selector: { matchLabels: { app: 'vllm' } } },
        events: { zmq: { port: 'kv-events' } },
        indexer: { replicas: { min: 1, max: 1 }, workersPerReplica: 1000 },
      },
    },
  });
  const logDir = mkdtempSync(join(tmpdir(), 'kvindex-scale-'));
  controller = await startControllerProcess(plane.kubeConfigFile, logDir, 'controller', [
    '--leader-elect=false',
    '--log-level',
    'info',
  ]);
  const url = controller.url;
  await waitFor('controller ready', async () => (await fetch(`${url}/readyz`)).ok);

  const readyAt = new Map<bigint, number>();
  const modelOf = new Map<bigint, string>();
  const createWorker = async (name: string, model: string, i: number) => {
    const pod: V1Pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, labels: { app: 'vllm', 'kvindex.io/model': model } },
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
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    await core.replaceNamespacedPodStatus({
      name,
      namespace: ns,
      body: {
        ...pod,
        status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
      },
    });
    const id = workerIdOf(ns, name, undefined) as bigint;
    readyAt.set(id, Date.now());
    modelOf.set(id, model);
    return id;
  };
  const held = (id: bigint) => seen.get(modelOf.get(id)!)?.get(id);

  // Phase 1: the whole fleet comes up.
  const bulkStart = Date.now();
  const apiBefore = await metric(url, 'kvindex_controller_apiserver_requests_total');
  const recBefore = await metric(url, 'kvindex_controller_reconciles_total');
  const names = Array.from({ length: PODS }, (_, i) => i);
  await pool(names, CONCURRENCY, async (i) => {
    await createWorker(`vllm-${i}`, models[i % MODELS]!, i + 1);
  });
  const created = Date.now();
  await waitFor(
    'every indexer to hold its workers',
    () => [...readyAt.keys()].every((id) => held(id) !== undefined),
    300_000,
    100,
  );
  const bulkLatency = [...readyAt].map(([id, at]) => held(id)! - at);
  const bulk = {
    pods: PODS,
    models: MODELS,
    createSeconds: (created - bulkStart) / 1000,
    allHeldSeconds: (Date.now() - bulkStart) / 1000,
    readyToHeldMs: {
      p50: percentile(bulkLatency, 50),
      p99: percentile(bulkLatency, 99),
      max: Math.max(...bulkLatency),
    },
    reconciles: (await metric(url, 'kvindex_controller_reconciles_total')) - recBefore,
    apiserverRequests: (await metric(url, 'kvindex_controller_apiserver_requests_total')) - apiBefore,
    puts,
  };

  // Let status settle, then measure single changes one at a time.
  await new Promise((r) => setTimeout(r, 3000));
  const churnLatency: number[] = [];
  const rec0 = await metric(url, 'kvindex_controller_reconciles_total');
  const api0 = await metric(url, 'kvindex_controller_apiserver_requests_total');
  const puts0 = puts;
  for (let k = 0; k < CHURN; k++) {
    const id = await createWorker(`churn-${k}`, models[k % MODELS]!, PODS + k + 1);
    await waitFor('churn pod held', () => held(id) !== undefined, 30_000, 5);
    churnLatency.push(held(id)! - readyAt.get(id)!);
  }
  // Settle, so reconciles the changes caused are all counted.
  await new Promise((r) => setTimeout(r, 2000));
  const churn = {
    changes: CHURN,
    readyToHeldMs: {
      p50: percentile(churnLatency, 50),
      p99: percentile(churnLatency, 99),
      max: Math.max(...churnLatency),
    },
    reconcilesPerChange: ((await metric(url, 'kvindex_controller_reconciles_total')) - rec0) / CHURN,
    apiserverRequestsPerChange:
      ((await metric(url, 'kvindex_controller_apiserver_requests_total')) - api0) / CHURN,
    putsPerChange: (puts - puts0) / CHURN,
  };

  // Idle: nothing changes for 5 s; a hot loop would keep reconciling and writing.
  const recIdle = await metric(url, 'kvindex_controller_reconciles_total');
  const apiIdle = await metric(url, 'kvindex_controller_apiserver_requests_total');
  await new Promise((r) => setTimeout(r, 5000));
  const idle = {
    seconds: 5,
    reconciles: (await metric(url, 'kvindex_controller_reconciles_total')) - recIdle,
    apiserverRequests: (await metric(url, 'kvindex_controller_apiserver_requests_total')) - apiIdle,
  };
  const memory = { controllerRssMiB: rssMiB(controller.child.pid!) };
  console.log(JSON.stringify({ bulk, churn, idle, memory }, null, 2));
} finally {
  await controller?.stop();
  for (const s of servers) s.close();
  await plane.stop();
}
