import { DecodeError, describe, readArray, readObject, readU32 } from '@kvindex/core';

/** One decoded vLLM/SGLang `KVEventBatch`, events still raw. */
export interface RawBatch {
  ts: number;
  events: unknown[];
  /** The engine's data-parallel rank; overrides the rank the listener was registered with. */
  dpRank: number | null;
}

/**
 * Accepts vLLM's `[ts, events, data_parallel_rank]`, SGLang's `[ts, events]`, and the map form
 * `{ts, events, data_parallel_rank | dp_rank}`. Dynamo 1.6.1 accepts only the 3-element array.
 */
export function readBatch(value: unknown): RawBatch {
  let ts: unknown;
  let events: unknown;
  let rank: unknown;
  if (Array.isArray(value)) {
    if (value.length < 2)
      throw new DecodeError('batch', `expected [ts, events, dp_rank?], got ${value.length} elements`);
    ts = value[0];
    events = value[1];
    rank = value[2];
  } else {
    const o = readObject(value, 'batch');
    ts = o.ts;
    events = o.events;
    rank = o.data_parallel_rank !== undefined ? o.data_parallel_rank : o.dp_rank;
  }
  return {
    ts: readTimestamp(ts),
    events: readArray(events, 'batch.events'),
    dpRank: rank === undefined || rank === null ? null : readU32(rank, 'batch.data_parallel_rank'),
  };
}

function readTimestamp(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new DecodeError('batch.ts', `expected a number, got ${describe(value)}`);
}
