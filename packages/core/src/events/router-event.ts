/**
 * The KV event model, field for field Dynamo's serde shape (`dynamo-kv-router` protocols), so the
 * JSON and msgpack codecs are plain mappings and dumps interoperate with Dynamo.
 */

export const STORAGE_TIERS = ['device', 'host_pinned', 'disk', 'external'] as const;
export type StorageTier = (typeof STORAGE_TIERS)[number];

export interface MmObject {
  mm_hash: bigint;
  offsets: number[][];
}

export interface MmExtraInfo {
  mm_objects: MmObject[];
}

export interface StoredBlock {
  /** The engine's opaque block id (vLLM's sequence hash); resolved per (worker, dp_rank). */
  block_hash: bigint;
  /** Dynamo's content hash of the block's tokens (LocalBlockHash); what the tree is keyed by. */
  tokens_hash: bigint;
  mm_extra_info?: MmExtraInfo | null;
}

export interface StoredData {
  parent_hash: bigint | null;
  start_position?: number | null;
  blocks: StoredBlock[];
}

export interface RemovedData {
  block_hashes: bigint[];
}

export type KvCacheEventData = { stored: StoredData } | { removed: RemovedData } | 'cleared';

export interface KvCacheEvent {
  event_id: bigint;
  data: KvCacheEventData;
  dp_rank: number;
}

export interface RouterEvent {
  worker_id: bigint;
  storage_tier: StorageTier;
  /** Dynamo writes "worker"; omitted rather than null when absent. */
  residency_domain?: string;
  event: KvCacheEvent;
}

/** A worker as the index sees it: one engine process (data-parallel rank) of an instance. */
export interface WorkerKey {
  worker_id: bigint;
  dp_rank: number;
}

export function workerKeyString(key: WorkerKey): string {
  return `${key.worker_id}:${key.dp_rank}`;
}

export function isStored(data: KvCacheEventData): data is { stored: StoredData } {
  return typeof data === 'object' && 'stored' in data;
}

export function isRemoved(data: KvCacheEventData): data is { removed: RemovedData } {
  return typeof data === 'object' && 'removed' in data;
}
