import type { V1Deployment, V1Pod, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { type ModelWorker, type ModelWorkerSet, stringifyJsonExact, xxh3_64_utf8 } from '@kvindex/core';
import type { FailedWorker, IndexerDeployment } from '../api/indexer-deployment.ts';
import {
  type DiscoveredWorker,
  discoverWorkers,
  type InferencePoolView,
  type Problem,
} from './discover-workers.ts';
import {
  DATA_PLANE_PORT,
  INDEXER_LABEL,
  indexerAutoscaler,
  indexerDeployment,
  indexerService,
} from './indexer-children.ts';
import { indexerName } from './names.ts';
import { byName, isPodServing, podName } from './pods.ts';

// desired = f(spec, worker pods, indexer pods): everything the controller should make true, computed
// without I/O. The reconciler applies the children, sends the feeds and writes status from it.

export interface DesiredStateInput {
  idxd: IndexerDeployment;
  /** Pods of the namespace (the function applies the selector). */
  pods: readonly V1Pod[];
  /** The referenced InferencePool; null when spec.workers.poolRef names one that does not exist. */
  pool?: InferencePoolView | null;
  /** The data-plane pods of this IndexerDeployment (label kvindex.io/indexer-deployment). */
  indexerPods: readonly V1Pod[];
  /** The data-plane image the controller was installed with. */
  image: string;
}

/** One `PUT /v1/models/{model}/workers` to one ready indexer replica. */
export interface WorkerFeed {
  pod: string;
  /** http://<podIP>:<port>/v1/models/<model>/workers */
  url: string;
  body: ModelWorkerSet;
}

export interface DesiredModel {
  model: string;
  /** Name of the Deployment, Service and HPA. */
  name: string;
  routingGroups: string[];
  /** Every endpoint (pod × rank) of the model, sorted by pod name then rank. */
  workers: ModelWorker[];
  workerPods: number;
  replicas: number;
  deployment: V1Deployment;
  service: V1Service;
  autoscaler?: V2HorizontalPodAutoscaler;
  feeds: WorkerFeed[];
  readyReplicas: number;
}

export interface DesiredState {
  models: DesiredModel[];
  failedWorkers: FailedWorker[];
  /** Misconfigurations (condition Degraded), one per reason, failed workers included. */
  problems: Problem[];
}

export function replicasFor(endpoints: number, perReplica: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.ceil(endpoints / perReplica)));
}

export function desiredState(input: DesiredStateInput): DesiredState {
  const { idxd } = input;
  const namespace = idxd.metadata.namespace!;
  const discovery = discoverWorkers(namespace, idxd.spec, input.pods, input.pool);

  const byModel = new Map<string, DiscoveredWorker[]>(discovery.models.map((m) => [m, []]));
  for (const worker of discovery.workers) {
    const list = byModel.get(worker.model) ?? [];
    list.push(worker);
    byModel.set(worker.model, list);
  }

  const indexerPodsByName = new Map<string, V1Pod[]>();
  for (const pod of byName(input.indexerPods)) {
    const name = pod.metadata?.labels?.[INDEXER_LABEL];
    if (name === undefined) continue;
    const list = indexerPodsByName.get(name) ?? [];
    list.push(pod);
    indexerPodsByName.set(name, list);
  }

  const { replicas: bounds, workersPerReplica } = idxd.spec.indexer;
  const models = [...byModel.keys()].sort().map((model): DesiredModel => {
    const workers = byModel.get(model)!;
    const endpoints = workers.flatMap((w) => w.endpoints);
    const name = indexerName(idxd.metadata.name!, model);
    const replicas = replicasFor(
      idxd.spec.events.transport === 'nats' ? workers.length : endpoints.length,
      workersPerReplica,
      bounds.min,
      bounds.max,
    );
    const ready = (indexerPodsByName.get(name) ?? []).filter(isPodServing);
    const feeds = idxd.spec.events.transport === 'zmq' ? feedsFor(model, endpoints, ready) : [];
    const desired: DesiredModel = {
      model,
      name,
      routingGroups: [...new Set(workers.map((w) => w.routingGroup))].sort(),
      workers: endpoints,
      workerPods: workers.length,
      replicas,
      deployment: indexerDeployment(idxd, name, model, { image: input.image, replicas }),
      service: indexerService(idxd, name, model),
      feeds,
      readyReplicas: ready.length,
    };
    const autoscaler = indexerAutoscaler(idxd, name, model);
    if (autoscaler) desired.autoscaler = autoscaler;
    return desired;
  });

  return {
    models,
    failedWorkers: discovery.failed,
    problems: [...discovery.problems, ...summarize(discovery.failed)],
  };
}

function feedsFor(model: string, workers: ModelWorker[], ready: V1Pod[]): WorkerFeed[] {
  const base = (pod: V1Pod) => {
    const ip = pod.status!.podIP!;
    return `http://${ip.includes(':') ? `[${ip}]` : ip}:${DATA_PLANE_PORT}`;
  };
  // The set's version: equal sets hash equal, so replicas and the controller can skip no-op updates.
  const generation = xxh3_64_utf8(stringifyJsonExact(workers), 0n).toString(16).padStart(16, '0');
  return ready.map((pod) => ({
    pod: podName(pod),
    url: `${base(pod)}/v1/models/${encodeURIComponent(model)}/workers`,
    body: { generation, workers, peers: ready.filter((p) => p !== pod).map(base) },
  }));
}

/** One problem per reason: "2 worker pods: vllm-1: <message>; vllm-3: <message>" (first three). */
function summarize(failed: FailedWorker[]): Problem[] {
  const byReason = new Map<string, FailedWorker[]>();
  for (const f of failed) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
  return [...byReason].map(([reason, list]) => {
    const shown = list.slice(0, 3).map((f) => `${f.pod}: ${f.message}`);
    if (list.length > 3) shown.push(`and ${list.length - 3} more`);
    const count = list.length === 1 ? '1 worker pod' : `${list.length} worker pods`;
    return { reason, message: `${count}: ${shown.join('; ')}` };
  });
}
