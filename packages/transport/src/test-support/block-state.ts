import { isRemoved, isStored, type RouterEvent, type WorkerKey, workerKeyString } from '@kvindex/core';

/**
 * The simplest faithful index for transport tests: per worker and tier, the set of block hashes
 * it holds (`tokens_hash` kept to compare content too). Not the radix tree — that lives in
 * @kvindex/indexer — but enough to say whether a stream reproduced an engine's cache.
 */
export class BlockState {
  readonly workers = new Map<string, Map<bigint, bigint>>();

  apply(events: readonly RouterEvent[]): void {
    for (const e of events) {
      const key = `${workerKeyString({ worker_id: e.worker_id, dp_rank: e.event.dp_rank })}/${e.storage_tier}`;
      let blocks = this.workers.get(key);
      if (!blocks) {
        blocks = new Map();
        this.workers.set(key, blocks);
      }
      const data = e.event.data;
      if (data === 'cleared') blocks.clear();
      else if (isStored(data)) for (const b of data.stored.blocks) blocks.set(b.block_hash, b.tokens_hash);
      else if (isRemoved(data)) for (const h of data.removed.block_hashes) blocks.delete(h);
    }
  }

  clear(worker: WorkerKey): void {
    const prefix = `${workerKeyString(worker)}/`;
    for (const [key, blocks] of this.workers) if (key.startsWith(prefix)) blocks.clear();
  }

  /** Sorted block hashes a worker holds on a tier. */
  hashes(worker: WorkerKey, tier = 'device'): bigint[] {
    const blocks = this.workers.get(`${workerKeyString(worker)}/${tier}`);
    return [...(blocks?.keys() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

export function sortedHashes(hashes: Iterable<bigint>): bigint[] {
  return [...hashes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
