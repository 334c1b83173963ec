import { DecodeError, describe } from '../codec/decode-error.ts';
import { parseJsonExact, stringifyJsonExact } from '../codec/json-exact.ts';
import { readArray, readObject, readString, readU32, readU64 } from '../codec/read-value.ts';

/**
 * Body of `PUT /v1/models/{model}/workers`: the complete set of workers one indexer replica must
 * follow for one model, sent by the controller on every change and on a periodic resync. The set
 * is level-triggered: workers absent from it are unsubscribed and their blocks removed; a worker
 * whose `generation` changed is cleared before it is subscribed again (an engine restart). Wire
 * shape is snake_case JSON with u64 ids as bare integers (stringifyJsonExact / parseJsonExact).
 */
export interface ModelWorkerSet {
  /**
   * Opaque version of this set chosen by the sender (e.g. a hash of it). Optional; a receiver may
   * echo it in its status so the sender can tell which set a replica has applied.
   */
  generation?: string;
  /** Every worker endpoint of the model, one entry per (instance_id, dp_rank); no duplicates. */
  workers: ModelWorker[];
  /** Base URLs (http://host:port) of the model's other indexer replicas, excluding the receiver. */
  peers: string[];
}

export interface ModelWorker {
  /** u64 worker id, as in RouterEvent.worker_id and Dynamo's worker_id. */
  instance_id: bigint;
  /** Data-parallel rank (u32): events published on this endpoint carry this rank. */
  dp_rank: number;
  /** The engine's KV-event PUB socket to subscribe to, e.g. tcp://10.0.0.7:5557 (rank r: port + r). */
  endpoint: string;
  /** The engine's replay (ROUTER) socket for backfilling event-id gaps, when the engine has one. */
  replay_endpoint?: string;
  /** Tokens per KV block this worker hashes with (u32 ≥ 1). */
  block_size: number;
  /**
   * Partition within the model: workers of different routing groups never share a prefix tree, and
   * all workers of one (model, routing group) must agree on block_size. Dynamo's default is "default".
   */
  routing_group: string;
  /** Opaque incarnation of the worker (pod UID + restart count); a change means clear, then resubscribe. */
  generation: string;
}

/** The routing group of workers that name none (Dynamo's `--routing-group` default). */
export const DEFAULT_ROUTING_GROUP = 'default';

/** Validates a decoded JSON value; errors name the offending field, e.g. `workers[2].endpoint`. */
export function modelWorkerSetFromValue(value: unknown): ModelWorkerSet {
  const o = readObject(value, '');
  const set: ModelWorkerSet = {
    workers: readArray(o.workers, 'workers').map((w, i) => modelWorkerFromValue(w, `workers[${i}]`)),
    peers: readArray(o.peers ?? [], 'peers').map((p, i) => readNonEmpty(p, `peers[${i}]`)),
  };
  if (o.generation !== undefined && o.generation !== null)
    set.generation = readString(o.generation, 'generation');
  const seen = new Set<string>();
  set.workers.forEach((w, i) => {
    const key = `${w.instance_id}/${w.dp_rank}`;
    if (seen.has(key)) {
      throw new DecodeError(`workers[${i}]`, `duplicate worker ${w.instance_id} rank ${w.dp_rank}`);
    }
    seen.add(key);
  });
  return set;
}

function modelWorkerFromValue(value: unknown, field: string): ModelWorker {
  const o = readObject(value, field);
  const worker: ModelWorker = {
    instance_id: readU64(o.instance_id, `${field}.instance_id`),
    dp_rank: readU32(o.dp_rank ?? 0, `${field}.dp_rank`),
    endpoint: readNonEmpty(o.endpoint, `${field}.endpoint`),
    block_size: readU32(o.block_size, `${field}.block_size`),
    routing_group: readNonEmpty(o.routing_group ?? DEFAULT_ROUTING_GROUP, `${field}.routing_group`),
    generation: readNonEmpty(o.generation, `${field}.generation`),
  };
  if (worker.block_size < 1) throw new DecodeError(`${field}.block_size`, 'must be at least 1');
  if (o.replay_endpoint !== undefined && o.replay_endpoint !== null) {
    worker.replay_endpoint = readNonEmpty(o.replay_endpoint, `${field}.replay_endpoint`);
  }
  return worker;
}

function readNonEmpty(value: unknown, field: string): string {
  const s = readString(value, field);
  if (s === '') throw new DecodeError(field, `expected a non-empty string, got ${describe(s)}`);
  return s;
}

export function parseModelWorkerSet(text: string): ModelWorkerSet {
  return modelWorkerSetFromValue(parseJsonExact(text));
}

export function stringifyModelWorkerSet(set: ModelWorkerSet): string {
  return stringifyJsonExact(set);
}
