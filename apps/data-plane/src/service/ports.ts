import type { RouterEvent, StorageTier } from '@kvindex/core';
import type { ColumnarBatch } from '@kvindex/indexer';
import type { ReceivedBatch } from './columnar-batch.ts';

/**
 * What the service needs from an index and from the event transport. The service is written
 * against these small ports; `wiring/` adapts @kvindex/indexer and @kvindex/transport to them.
 */

/** Dynamo's `dynamo_kvrouter_kv_cache_events_applied` status label values. */
export const APPLY_STATUSES = [
  'ok',
  'parent_block_not_found',
  'block_not_found',
  'invalid_block',
  'allocation_failed',
  'capacity_exhausted',
  'indexer_invariant_violation',
  'ownership_degree_overflow',
  'unsupported_residency_domain',
] as const;
export type ApplyStatus = (typeof APPLY_STATUSES)[number];

/** One (worker, dp_rank)'s match of a query, in blocks; tiers are cumulative as in Dynamo. */
export interface WorkerMatch {
  workerId: bigint;
  dpRank: number;
  /** Contiguous device-tier prefix from block 0. */
  device: number;
  /** device + host-tier blocks continuing the chain. */
  host: number;
  /** host + disk/external blocks continuing the chain. */
  disk: number;
}

export type TierCounts = Record<StorageTier, number>;

export interface WorkerBlocks {
  workerId: bigint;
  dpRank: number;
  blocks: TierCounts;
}

/** One (model, routing_group)'s index. */
export interface PartitionIndex {
  apply(event: RouterEvent): ApplyStatus;
  /**
   * Event `i` of a batch's columns, a device-tier stored/removed event already in u32 halves;
   * without it, `apply` gets a RouterEvent.
   */
  applyBatchEvent?(columns: ColumnarBatch, i: number): ApplyStatus;
  /** Matches of local block hashes; only workers with at least one matched block (any tier). */
  findMatches(localHashes: BigUint64Array): WorkerMatch[];
  /** Dynamo's dump_tree_as_events: replaying it rebuilds the index. */
  dump(): RouterEvent[];
  removeWorker(workerId: bigint): void;
  removeWorkerDpRank(workerId: bigint, dpRank: number): void;
  /** Blocks held per (worker, dp_rank) and tier. */
  workerBlocks(): WorkerBlocks[];
}

export type IndexFactory = (blockSize: number) => PartitionIndex;

export type ListenerStatus = 'pending' | 'active' | 'paused' | 'failed';

/** Ingestion health of one listener, for /v1/models, /readyz and metrics. */
export interface ListenerStats {
  batches: number;
  events: number;
  gaps: number;
  replays: number;
  decodeErrors: number;
  /** Seconds between the newest batch's engine timestamp and its arrival, if known. */
  lagSeconds: number | undefined;
  /** True once the listener has received live data or finished its catch-up. */
  caughtUp: boolean;
  /** Counted drops by reason (whole messages and single events the transport refused). */
  dropped: Record<string, number>;
}

export interface ListenerSpec {
  instanceId: bigint;
  dpRank: number;
  endpoint: string;
  replayEndpoint: string | undefined;
  blockSize: number;
  modelName: string;
  routingGroup: string;
}

/**
 * Events of one batch, in order, with the engine's batch timestamp (seconds) when it sent one:
 * as RouterEvents, or packed into columns by a listener that decodes off the main thread.
 */
export type EventSink = (events: RouterEvent[] | ReceivedBatch, batchTs: number | undefined) => void;

export interface EventListener {
  status(): ListenerStatus;
  lastError(): string | undefined;
  stats(): ListenerStats;
  close(): Promise<void>;
  /** Stop reading (backpressure): the engine's buffers fill, what is lost is replayed on resume. */
  pause?(): void;
  resume?(): void;
}

export type ListenerFactory = (spec: ListenerSpec, sink: EventSink) => EventListener;
