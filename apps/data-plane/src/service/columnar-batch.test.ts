import type { RouterEvent } from '@kvindex/core';
import { BATCH_STORED, KvIndex } from '@kvindex/indexer';
import { describe, expect, it } from 'vitest';
import {
  EVENT_OBJECT,
  EVENT_REMOVED,
  EVENT_STORED,
  packListenerBatch,
  ReceivedBatch,
} from './columnar-batch.ts';

const W = 2n ** 64n - 3n;
const ev = (
  data: RouterEvent['event']['data'],
  tier: RouterEvent['storage_tier'] = 'device',
): RouterEvent => ({
  worker_id: W,
  storage_tier: tier,
  event: { event_id: 77n, dp_rank: 3, data },
});

describe('packListenerBatch / ReceivedBatch', () => {
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
    const { batch, transfer } = packListenerBatch(W, events);
    // What postMessage does with the transfer list: the buffers move, the structure is cloned.
    const moved = structuredClone(batch, { transfer });
    const read = new ReceivedBatch(moved);
    expect(read.length).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => read.kindAt(i))).toEqual([
      EVENT_STORED,
      EVENT_OBJECT,
      EVENT_REMOVED,
      EVENT_OBJECT,
      EVENT_STORED,
    ]);
    expect(events.map((_, i) => read.eventAt(i))).toEqual(events);
    const c = read.columns;
    expect([c.kinds[0], c.starts[1]! - c.starts[0]!, c.hasParent[0], c.dpRanks[0]]).toEqual([
      BATCH_STORED,
      2,
      1,
      3,
    ]);
    expect([c.hashLo[0], c.hashHi[0]]).toEqual([0xffff_ffff, 0xffff_ffff]);
    // Object events hold no rows, so the columns' event indices stay the batch's.
    expect(c.starts[2]! - c.starts[1]!).toBe(0);
    expect(c.hasParent[4]).toBe(0);
  });

  it('applied through the columns, indexes exactly what the RouterEvents index', () => {
    const events: RouterEvent[] = [
      ev({ stored: { parent_hash: null, blocks: [{ block_hash: 2n ** 64n - 1n, tokens_hash: 2n ** 63n }] } }),
      ev({ stored: { parent_hash: 2n ** 64n - 1n, blocks: [{ block_hash: 2n ** 60n, tokens_hash: 17n }] } }),
      ev({ removed: { block_hashes: [2n ** 60n] } }),
      ev({ removed: { block_hashes: [404n] } }),
    ];
    const { batch, transfer } = packListenerBatch(W, events);
    const read = new ReceivedBatch(structuredClone(batch, { transfer }));
    const byColumns = new KvIndex();
    const statuses: string[] = [];
    for (let i = 0; i < read.length; i++) {
      const one: import('@kvindex/indexer').ApplyStatus[] = [];
      byColumns.applyBatch(read.columns, i, i + 1, one);
      statuses.push(one[0]!);
    }
    const byObjects = new KvIndex();
    expect(statuses).toEqual(events.map((e) => byObjects.applyEvent(e)));
    expect(byColumns.dump()).toEqual(byObjects.dump());
  });
});
