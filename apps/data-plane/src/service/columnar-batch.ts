import { isRemoved, isStored, type RouterEvent } from '@kvindex/core';
import { type ColumnarEvent, fromHalves, splitInto } from '@kvindex/indexer';

/**
 * One listener batch packed for a postMessage from the ingest worker: device-tier stored and
 * removed events (nearly all of them) as u32-half columns in transferable typed arrays, so the
 * main thread applies them with `KvIndex.applyColumnar` without building a BigInt per block;
 * cleared and lower-tier events, rare, travel as RouterEvents (structured clone keeps BigInts)
 * in their place in the order.
 */

/** Per event: how it travels. */
export const EVENT_STORED = 0;
export const EVENT_REMOVED = 1;
/** A RouterEvent in `objects` (cleared, or a host/disk/external tier event). */
export const EVENT_OBJECT = 2;

export interface PackedBatch {
  workerId: bigint;
  /** The batch's seq: every event's event_id. */
  eventId: bigint;
  /** EVENT_* per event. */
  kinds: Uint8Array;
  dpRanks: Uint32Array;
  /** 1 when a stored event has a parent. */
  hasParent: Uint8Array;
  parentLo: Uint32Array;
  parentHi: Uint32Array;
  /** Event i's blocks are rows starts[i] .. starts[i+1] of the block columns. */
  starts: Uint32Array;
  tokensLo: Uint32Array;
  tokensHi: Uint32Array;
  hashLo: Uint32Array;
  hashHi: Uint32Array;
  /** The EVENT_OBJECT events, in order. */
  objects: RouterEvent[];
}

/** Packs a batch (all events of one worker, as a listener delivers them) and lists its buffers to transfer. */
export function packEvents(
  workerId: bigint,
  events: readonly RouterEvent[],
): { batch: PackedBatch; transfer: ArrayBuffer[] } {
  const eventId = events[0]?.event.event_id ?? 0n;
  const n = events.length;
  let rows = 0;
  for (const e of events) {
    if (e.storage_tier !== 'device') continue;
    const data = e.event.data;
    if (isStored(data)) rows += data.stored.blocks.length;
    else if (isRemoved(data)) rows += data.removed.block_hashes.length;
  }
  const batch: PackedBatch = {
    workerId,
    eventId,
    kinds: new Uint8Array(n),
    dpRanks: new Uint32Array(n),
    hasParent: new Uint8Array(n),
    parentLo: new Uint32Array(n),
    parentHi: new Uint32Array(n),
    starts: new Uint32Array(n + 1),
    tokensLo: new Uint32Array(rows),
    tokensHi: new Uint32Array(rows),
    hashLo: new Uint32Array(rows),
    hashHi: new Uint32Array(rows),
    objects: [],
  };
  let row = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    batch.starts[i] = row;
    batch.dpRanks[i] = e.event.dp_rank;
    const data = e.event.data;
    if (
      e.worker_id !== workerId ||
      e.event.event_id !== eventId ||
      e.storage_tier !== 'device' ||
      data === 'cleared'
    ) {
      batch.kinds[i] = EVENT_OBJECT;
      batch.objects.push(e);
    } else if (isStored(data)) {
      batch.kinds[i] = EVENT_STORED;
      const parent = data.stored.parent_hash;
      if (parent !== null) {
        batch.hasParent[i] = 1;
        splitInto(parent, batch.parentLo, batch.parentHi, i);
      }
      for (const b of data.stored.blocks) {
        splitInto(b.tokens_hash, batch.tokensLo, batch.tokensHi, row);
        splitInto(b.block_hash, batch.hashLo, batch.hashHi, row);
        row++;
      }
    } else {
      batch.kinds[i] = EVENT_REMOVED;
      for (const h of data.removed.block_hashes) {
        splitInto(h, batch.hashLo, batch.hashHi, row);
        row++;
      }
    }
  }
  batch.starts[n] = row;
  const transfer = [
    batch.kinds,
    batch.dpRanks,
    batch.hasParent,
    batch.parentLo,
    batch.parentHi,
    batch.starts,
    batch.tokensLo,
    batch.tokensHi,
    batch.hashLo,
    batch.hashHi,
  ].map((a) => a.buffer as ArrayBuffer);
  return { batch, transfer };
}

/** Reads a PackedBatch on the applying side, event by event. */
export class ColumnarBatch {
  readonly length: number;
  readonly workerId: bigint;
  private readonly packed: PackedBatch;
  /** Index into `objects` of each EVENT_OBJECT event (filled lazily, in order). */
  private objectIndex: Int32Array | undefined;

  constructor(packed: PackedBatch) {
    this.packed = packed;
    this.length = packed.kinds.length;
    this.workerId = packed.workerId;
  }

  kindAt(i: number): number {
    return this.packed.kinds[i]!;
  }

  /** Event i (EVENT_STORED or EVENT_REMOVED) in columnar form: views into the batch, no copies. */
  columnarAt(i: number): ColumnarEvent {
    const p = this.packed;
    const start = p.starts[i]!;
    const end = p.starts[i + 1]!;
    const stored = p.kinds[i] === EVENT_STORED;
    return {
      workerId: p.workerId,
      dpRank: p.dpRanks[i]!,
      kind: stored ? 'stored' : 'removed',
      hasParent: p.hasParent[i] === 1,
      parentLo: p.parentLo[i]!,
      parentHi: p.parentHi[i]!,
      count: end - start,
      tokensLo: stored ? p.tokensLo.subarray(start, end) : EMPTY,
      tokensHi: stored ? p.tokensHi.subarray(start, end) : EMPTY,
      hashLo: p.hashLo.subarray(start, end),
      hashHi: p.hashHi.subarray(start, end),
    };
  }

  /** Event i as a RouterEvent, whatever its kind (for indexes without a columnar apply). */
  eventAt(i: number): RouterEvent {
    const kind = this.packed.kinds[i];
    if (kind === EVENT_OBJECT) return this.objectAt(i);
    const c = this.columnarAt(i);
    const hash = (k: number) => fromHalves(c.hashLo[k]!, c.hashHi[k]!);
    const event = { event_id: this.packed.eventId, dp_rank: c.dpRank };
    if (kind === EVENT_REMOVED) {
      const block_hashes = Array.from({ length: c.count }, (_, k) => hash(k));
      return {
        worker_id: c.workerId,
        storage_tier: 'device',
        event: { ...event, data: { removed: { block_hashes } } },
      };
    }
    const blocks = Array.from({ length: c.count }, (_, k) => ({
      block_hash: hash(k),
      tokens_hash: fromHalves(c.tokensLo[k]!, c.tokensHi[k]!),
    }));
    const parent_hash = c.hasParent ? fromHalves(c.parentLo, c.parentHi) : null;
    return {
      worker_id: c.workerId,
      storage_tier: 'device',
      event: { ...event, data: { stored: { parent_hash, blocks } } },
    };
  }

  /** Event i when it is an EVENT_OBJECT. */
  objectAt(i: number): RouterEvent {
    if (!this.objectIndex) {
      this.objectIndex = new Int32Array(this.length).fill(-1);
      let k = 0;
      for (let j = 0; j < this.length; j++)
        if (this.packed.kinds[j] === EVENT_OBJECT) this.objectIndex[j] = k++;
    }
    const k = this.objectIndex[i]!;
    if (k < 0) throw new Error(`event ${i} of the batch is not an object event`);
    return this.packed.objects[k]!;
  }
}

const EMPTY = new Uint32Array(0);
