import { isRemoved, isStored, type RouterEvent } from '@kvindex/core';
import { splitInto } from './u64-halves.ts';

export const BATCH_STORED = 0;
export const BATCH_REMOVED = 1;
export const BATCH_CLEARED = 2;

/**
 * Events decoded into flat u32-half columns: the index's native input. Event i's blocks (stored)
 * or hashes (removed) are rows starts[i] .. starts[i + 1]. One batch is a handful of typed arrays
 * whatever its size, so a decoder can hand it to `KvIndex.applyBatch` (or across threads, by
 * transfer) without a BigInt or an object per block. Storage tiers are the caller's business:
 * `TieredKvIndex` routes lower tiers before packing.
 */
export interface ColumnarBatch {
  length: number;
  /** BATCH_* per event. */
  kinds: Uint8Array;
  workerLo: Uint32Array;
  workerHi: Uint32Array;
  dpRanks: Uint32Array;
  /** 1 when a stored event has a parent. */
  hasParent: Uint8Array;
  parentLo: Uint32Array;
  parentHi: Uint32Array;
  /** length + 1 entries. */
  starts: Uint32Array;
  /** Stored rows only (removed rows leave them 0). */
  tokensLo: Uint32Array;
  tokensHi: Uint32Array;
  /** Stored: the blocks' hashes; removed: the hashes to remove. */
  hashLo: Uint32Array;
  hashHi: Uint32Array;
}

function rowsOf(event: RouterEvent): number {
  const data = event.event.data;
  if (isStored(data)) return data.stored.blocks.length;
  if (isRemoved(data)) return data.removed.block_hashes.length;
  return 0;
}

/** Packs events [from, to) (the form a halves-writing decoder produces directly). */
export function packEvents(events: readonly RouterEvent[], from = 0, to = events.length): ColumnarBatch {
  const n = to - from;
  let rows = 0;
  for (let i = from; i < to; i++) rows += rowsOf(events[i]!);
  const batch: ColumnarBatch = {
    length: n,
    kinds: new Uint8Array(n),
    workerLo: new Uint32Array(n),
    workerHi: new Uint32Array(n),
    dpRanks: new Uint32Array(n),
    hasParent: new Uint8Array(n),
    parentLo: new Uint32Array(n),
    parentHi: new Uint32Array(n),
    starts: new Uint32Array(n + 1),
    tokensLo: new Uint32Array(rows),
    tokensHi: new Uint32Array(rows),
    hashLo: new Uint32Array(rows),
    hashHi: new Uint32Array(rows),
  };
  let row = 0;
  for (let i = 0; i < n; i++) {
    const event = events[from + i]!;
    splitInto(event.worker_id, batch.workerLo, batch.workerHi, i);
    batch.dpRanks[i] = event.event.dp_rank;
    batch.starts[i] = row;
    const data = event.event.data;
    if (isStored(data)) {
      batch.kinds[i] = BATCH_STORED;
      const parent = data.stored.parent_hash;
      if (parent !== null) {
        batch.hasParent[i] = 1;
        splitInto(parent, batch.parentLo, batch.parentHi, i);
      }
      for (const block of data.stored.blocks) {
        splitInto(block.tokens_hash, batch.tokensLo, batch.tokensHi, row);
        splitInto(block.block_hash, batch.hashLo, batch.hashHi, row);
        row++;
      }
    } else if (isRemoved(data)) {
      batch.kinds[i] = BATCH_REMOVED;
      for (const hash of data.removed.block_hashes) {
        splitInto(hash, batch.hashLo, batch.hashHi, row);
        row++;
      }
    } else {
      batch.kinds[i] = BATCH_CLEARED;
    }
  }
  batch.starts[n] = row;
  return batch;
}
