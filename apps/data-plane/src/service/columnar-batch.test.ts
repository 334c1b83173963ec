import type { RouterEvent } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { ColumnarBatch, EVENT_OBJECT, EVENT_REMOVED, EVENT_STORED, packEvents } from './columnar-batch.ts';

const W = 2n ** 64n - 3n;
const ev = (
  data: RouterEvent['event']['data'],
  tier: RouterEvent['storage_tier'] = 'device',
): RouterEvent => ({
  worker_id: W,
  storage_tier: tier,
  event: { event_id: 77n, dp_rank: 3, data },
});

describe('packEvents / ColumnarBatch', () => {
  it('round-trips a batch exactly, u64 hashes above 2^53 included, with rare events kept in order as objects', () => {
    const events: RouterEvent[] = [
      ev({
        stored: {
          parent_hash: 2n ** 63n + 5n,
          blocks: [
            { block_hash: 2n ** 64n - 1n, tokens_hash: 2n ** 53n + 1n },
            { block_hash: 12n, tokens_hash: 2n ** 40n + 7n },
          ],
        },
      }),
      ev('cleared'),
      ev({ removed: { block_hashes: [2n ** 64n - 1n, 9n] } }),
      ev({ stored: { parent_hash: null, blocks: [{ block_hash: 1n, tokens_hash: 2n }] } }, 'host_pinned'),
      ev({ stored: { parent_hash: null, blocks: [{ block_hash: 5n, tokens_hash: 6n }] } }),
    ];
    const { batch, transfer } = packEvents(W, events);
    // What postMessage does with the transfer list: the buffers move, the structure is cloned.
    const moved = structuredClone(batch, { transfer });
    const read = new ColumnarBatch(moved);
    expect(read.length).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => read.kindAt(i))).toEqual([
      EVENT_STORED,
      EVENT_OBJECT,
      EVENT_REMOVED,
      EVENT_OBJECT,
      EVENT_STORED,
    ]);
    expect(events.map((_, i) => read.eventAt(i))).toEqual(events);
    const c = read.columnarAt(0);
    expect([c.kind, c.count, c.hasParent, c.workerId, c.dpRank]).toEqual(['stored', 2, true, W, 3]);
    expect([c.hashLo[0], c.hashHi[0]]).toEqual([0xffff_ffff, 0xffff_ffff]);
    expect(read.columnarAt(4).hasParent).toBe(false);
  });
});
