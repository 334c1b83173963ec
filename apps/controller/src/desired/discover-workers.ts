import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_ROUTING_GROUP, type ModelWorker } from '@kvindex/core';
import type { FailedWorker, IndexerDeploymentSpec } from '../api/indexer-deployment.ts';
import { endpointPort, engineEventsConfig, publisherBinds } from './engine-config.ts';
import { annotation, byName, isPodServing, matchesLabels, podName, restartCount } from './pods.ts';
import { engineContainer, podRanks, resolvePort, tcpEndpoint } from './ports.ts';
import { WORKER_ID_ANNOTATION, workerIdOf } from './worker-id.ts';

export const BLOCK_SIZE_ANNOTATION = 'kvindex.io/block-size';

/** What an InferencePool contributes (spec.selector.matchLabels and spec.targetPorts[].number). */
export interface InferencePoolView {
  selector: Record<string, string>;
  targetPorts: number[];
}

export interface DiscoveredWorker {
  pod: string;
  model: string;
  routingGroup: string;
  blockSize: number;
  /** One per served data-parallel rank; empty with the nats transport (workers announce themselves). */
  endpoints: ModelWorker[];
}

/** A misconfiguration not tied to one pod. */
export interface Problem {
  reason: string;
  message: string;
}

export interface Discovery {
  /**
   * Models of every selected pod that is not finished or being deleted, serving or not: a model
   * keeps its indexer through a rolling restart of all its engines.
   */
  models: string[];
  workers: DiscoveredWorker[];
  failed: FailedWorker[];
  problems: Problem[];
}

/**
 * Finds the worker pods of an IndexerDeployment and what the indexers must subscribe to. Only
 * serving pods count; a serving pod that cannot be indexed is listed in `failed` with a reason.
 * `pool` is the referenced InferencePool (null when it does not exist), unused with a selector.
 */
export function discoverWorkers(
  namespace: string,
  spec: IndexerDeploymentSpec,
  pods: readonly V1Pod[],
  pool?: InferencePoolView | null,
): Discovery {
  const failed: FailedWorker[] = [];
  const problems: Problem[] = [];
  let selector: Record<string, string>;
  let targetPorts: number[] | undefined;
  if (spec.workers.poolRef) {
    if (!pool) {
      problems.push({
        reason: 'InferencePoolNotFound',
        message: `InferencePool ${spec.workers.poolRef.name} not found in namespace ${namespace}`,
      });
      return { models: [], workers: [], failed, problems };
    }
    selector = pool.selector;
    targetPorts = pool.targetPorts;
  } else {
    selector = spec.workers.selector?.matchLabels ?? {};
  }
  if (Object.keys(selector).length === 0) {
    // An empty selector would select every pod in the namespace; the CRD forbids it, pools may not.
    problems.push({
      reason: 'EmptySelector',
      message: 'the worker selector is empty; refusing to select every pod',
    });
    return { models: [], workers: [], failed, problems };
  }

  const workers: DiscoveredWorker[] = [];
  const models = new Set<string>();
  for (const pod of byName(pods)) {
    if (!matchesLabels(pod, selector)) continue;
    const model = pod.metadata?.labels?.[spec.workers.modelLabel] || spec.model;
    const phase = pod.status?.phase;
    if (
      model !== undefined &&
      !pod.metadata?.deletionTimestamp &&
      phase !== 'Succeeded' &&
      phase !== 'Failed'
    ) {
      models.add(model);
    }
    if (!isPodServing(pod)) continue;
    const result = discoverPod(namespace, spec, pod, targetPorts);
    if ('reason' in result) failed.push(result);
    else if (result.endpoints.length > 0 || spec.events.transport === 'nats') workers.push(result);
  }
  return {
    models: [...models].sort(),
    workers: rejectConflicts(workers, failed, spec.blockSize),
    failed,
    problems,
  };
}

function discoverPod(
  namespace: string,
  spec: IndexerDeploymentSpec,
  pod: V1Pod,
  targetPorts: number[] | undefined,
): DiscoveredWorker | FailedWorker {
  const name = podName(pod);
  const labels = pod.metadata?.labels ?? {};
  const model = labels[spec.workers.modelLabel] || spec.model;
  const fail = (reason: string, message: string): FailedWorker =>
    model === undefined ? { pod: name, reason, message } : { pod: name, model, reason, message };
  if (model === undefined) {
    return fail('ModelUnknown', `pod has no label ${spec.workers.modelLabel} and spec.model is not set`);
  }
  const routingGroup =
    (spec.workers.routingGroupLabel && labels[spec.workers.routingGroupLabel]) || DEFAULT_ROUTING_GROUP;

  let blockSize = spec.blockSize;
  const blockSizeOverride = annotation(pod, BLOCK_SIZE_ANNOTATION);
  if (blockSizeOverride !== undefined) {
    if (
      !/^[0-9]+$/.test(blockSizeOverride) ||
      Number(blockSizeOverride) < 1 ||
      Number(blockSizeOverride) > 65536
    ) {
      return fail(
        'InvalidAnnotation',
        `annotation ${BLOCK_SIZE_ANNOTATION} must be an integer in [1, 65536], got ${JSON.stringify(blockSizeOverride)}`,
      );
    }
    blockSize = Number(blockSizeOverride);
  }

  const id = workerIdOf(namespace, name, annotation(pod, WORKER_ID_ANNOTATION));
  if (typeof id === 'string') return fail('InvalidAnnotation', id);
  if (spec.events.transport === 'nats') return { pod: name, model, routingGroup, blockSize, endpoints: [] };

  const { port, replayPort } = spec.events.zmq;
  const engine = engineContainer(pod, spec.workers.engineContainer, port);
  if (!engine) {
    return fail(
      'ContainerNotFound',
      spec.workers.engineContainer === undefined
        ? 'pod has no containers'
        : `pod has no container named ${JSON.stringify(spec.workers.engineContainer)} (spec.workers.engineContainer)`,
    );
  }
  const basePort = resolvePort(pod, engine, port);
  if (basePort === undefined) {
    return fail(
      'PortNotFound',
      `no container port named ${JSON.stringify(port)} (spec.events.zmq.port): name the engine's KV-event port or give its number`,
    );
  }
  const baseReplayPort = replayPort === undefined ? undefined : resolvePort(pod, engine, replayPort);
  if (replayPort !== undefined && baseReplayPort === undefined) {
    return fail(
      'PortNotFound',
      `no container port named ${JSON.stringify(replayPort)} (spec.events.zmq.replayPort)`,
    );
  }
  const ranks = podRanks(pod, targetPorts);
  if (typeof ranks === 'string') return fail('InvalidAnnotation', ranks);
  const top = Math.max(-1, ...ranks);
  for (const [what, base] of [
    ['events', basePort],
    ['replay', baseReplayPort],
  ] as const) {
    if (base !== undefined && base + top > 65535) {
      return fail('PortOutOfRange', `${what} port ${base} + rank ${top} exceeds 65535`);
    }
  }

  const config = engineEventsConfig(engine);
  if (config && !config.enabled) {
    return fail(
      'EventsDisabled',
      `container ${engine.name}: --kv-events-config does not enable KV events (needs "enable_kv_cache_events": true and a zmq publisher)`,
    );
  }
  if (config && !publisherBinds(config.endpoint)) {
    return fail(
      'EngineConnects',
      `container ${engine.name}: --kv-events-config endpoint ${config.endpoint} makes the engine connect instead of bind; ` +
        `the indexer connects too, so no events would arrive. Use tcp://*:${endpointPort(config.endpoint) ?? basePort}`,
    );
  }
  const configPort = config && endpointPort(config.endpoint);
  if (configPort !== undefined && configPort !== basePort) {
    return fail(
      'EventsPortMismatch',
      `container ${engine.name} publishes KV events on port ${configPort} but spec.events.zmq.port resolves to ${basePort}`,
    );
  }

  const ip = pod.status!.podIP!;
  const generation = `${pod.metadata?.uid ?? ''}:${restartCount(pod, engine)}`;
  const endpoints = ranks.map((rank): ModelWorker => {
    const worker: ModelWorker = {
      instance_id: id,
      dp_rank: rank,
      endpoint: tcpEndpoint(ip, basePort + rank),
      block_size: blockSize,
      routing_group: routingGroup,
      generation,
    };
    if (baseReplayPort !== undefined) worker.replay_endpoint = tcpEndpoint(ip, baseReplayPort + rank);
    return worker;
  });
  return { pod: name, model, routingGroup, blockSize, endpoints };
}

/**
 * Two pods with one worker id would overwrite each other's blocks; workers of one (model, routing
 * group) must hash with one block size. The later pod by name, or the minority block size, fails.
 */
function rejectConflicts(
  workers: DiscoveredWorker[],
  failed: FailedWorker[],
  specBlockSize: number,
): DiscoveredWorker[] {
  const owners = new Map<string, string>();
  const unique = workers.filter((w) => {
    const key = `${w.model}\u0000${w.endpoints[0]?.instance_id ?? w.pod}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      failed.push({
        pod: w.pod,
        model: w.model,
        reason: 'WorkerIdCollision',
        message: `worker id ${w.endpoints[0]?.instance_id} is already used by pod ${owner}; set a distinct ${WORKER_ID_ANNOTATION}`,
      });
      return false;
    }
    owners.set(key, w.pod);
    return true;
  });

  const sizes = new Map<string, Map<number, number>>();
  for (const w of unique) {
    const key = `${w.model}\u0000${w.routingGroup}`;
    const counts = sizes.get(key) ?? new Map<number, number>();
    counts.set(w.blockSize, (counts.get(w.blockSize) ?? 0) + 1);
    sizes.set(key, counts);
  }
  const chosen = new Map<string, number>();
  for (const [key, counts] of sizes) {
    // Most pods win; on a tie the spec's block size, then the smallest.
    const ranked = [...counts].sort(
      ([sa, ca], [sb, cb]) =>
        cb - ca || Number(sb === specBlockSize) - Number(sa === specBlockSize) || sa - sb,
    );
    chosen.set(key, ranked[0]![0]);
  }
  return unique.filter((w) => {
    const size = chosen.get(`${w.model}\u0000${w.routingGroup}`)!;
    if (w.blockSize === size) return true;
    failed.push({
      pod: w.pod,
      model: w.model,
      reason: 'BlockSizeMismatch',
      message: `block size ${w.blockSize} disagrees with ${size} of the other workers of model ${w.model} routing group ${w.routingGroup}`,
    });
    return false;
  });
}
