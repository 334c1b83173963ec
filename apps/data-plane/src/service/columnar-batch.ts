import { isStored, type RouterEvent } from '@kvindex/core';
import { BATCH_STORED, type ColumnarBatch, fromHalves, packEvents } from '@kvindex/indexer';

/**
 * One listener batch packed for a postMessage from the ingest worker: device-tier stored and
 * removed events (nearly all of them) as the index's own `ColumnarBatch` columns in transferable
 * typed arrays, so the main thread applies them with `KvIndex.applyBatch` without a BigInt or an
 * object per block; cleared and lower-tier events, rare, travel as RouterEvents (structured clone
 * keeps BigInts) in their place in the order.
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
  /** Every event's place in the index's columns; an object event is an empty row range there. */
  columns: ColumnarBatch;
  /** The EVENT_OBJECT events, in order. */
  objects: RouterEvent[];
}

/** Packs a batch (all events of one worker, as a listener delivers them) and lists its buffers to transfer. */
export function packListenerBatch(
  workerId: bigint,
  events: readonly RouterEvent[],
): { batch: PackedBatch; transfer: ArrayBuffer[] } {
  const eventId = events[0]?.event.event_id ?? 0n;
  const kinds = new Uint8Array(events.length);
  const objects: RouterEvent[] = [];
  const forColumns = events.map((e, i) => {
    const data = e.event.data;
    const travelsAsObject =
      e.worker_id !== workerId ||
      e.event.event_id !== eventId ||
      e.storage_tier !== 'device' ||
      data === 'cleared';
    if (!travelsAsObject) {
      kinds[i] = isStored(data) ? EVENT_STORED : EVENT_REMOVED;
      return e;
    }
    kinds[i] = EVENT_OBJECT;
    objects.push(e);
    // A placeholder with no rows keeps the columns' event indices equal to the batch's.
    return { ...e, event: { ...e.event, data: 'cleared' as const } };
  });
  const columns = packEvents(forColumns);
  const batch: PackedBatch = { workerId, eventId, kinds, columns, objects };
  const transfer = [
    kinds,
    columns.kinds,
    columns.workerLo,
    columns.workerHi,
    columns.dpRanks,
    columns.hasParent,
    columns.parentLo,
    columns.parentHi,
    columns.starts,
    columns.tokensLo,
    columns.tokensHi,
    columns.hashLo,
    columns.hashHi,
  ].map((a) => a.buffer as ArrayBuffer);
  return { batch, transfer };
}

/** A PackedBatch on the applying side, read event by event. */
export class ReceivedBatch {
  readonly length: number;
  readonly workerId: bigint;
  readonly columns: ColumnarBatch;
  private readonly packed: PackedBatch;
  /** Index into `objects` of each EVENT_OBJECT event (filled lazily, in order). */
  private objectIndex: Int32Array | undefined;

  constructor(packed: PackedBatch) {
    this.packed = packed;
    this.length = packed.kinds.length;
    this.workerId = packed.workerId;
    this.columns = packed.columns;
  }

  kindAt(i: number): number {
    return this.packed.kinds[i]!;
  }

  /** Event i as a RouterEvent, whatever its kind (for indexes without a columnar apply). */
  eventAt(i: number): RouterEvent {
    const kind = this.packed.kinds[i];
    if (kind === EVENT_OBJECT) return this.objectAt(i);
    const c = this.columns;
    const start = c.starts[i]!;
    const count = c.starts[i + 1]! - start;
    const hash = (k: number) => fromHalves(c.hashLo[start + k]!, c.hashHi[start + k]!);
    const event = { event_id: this.packed.eventId, dp_rank: c.dpRanks[i]! };
    if (c.kinds[i] !== BATCH_STORED) {
      const block_hashes = Array.from({ length: count }, (_, k) => hash(k));
      return {
        worker_id: this.workerId,
        storage_tier: 'device',
        event: { ...event, data: { removed: { block_hashes } } },
      };
    }
    const blocks = Array.from({ length: count }, (_, k) => ({
      block_hash: hash(k),
      tokens_hash: fromHalves(c.tokensLo[start + k]!, c.tokensHi[start + k]!),
    }));
    const parent_hash = c.hasParent[i] === 1 ? fromHalves(c.parentLo[i]!, c.parentHi[i]!) : null;
    return {
      worker_id: this.workerId,
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
