import type { RouterEvent, StorageTier } from '@kvindex/core';
import { TieredKvIndex } from '@kvindex/indexer';
import { describe, expect, it } from 'vitest';
import { KvIndexPartition } from './kv-index-partition.ts';

function stored(
  worker: bigint,
  dp: number,
  tier: StorageTier,
  parent: bigint | null,
  hashes: bigint[],
): RouterEvent {
  return {
    worker_id: worker,
    storage_tier: tier,
    event: {
      event_id: 1n,
      dp_rank: dp,
      data: {
        stored: {
          parent_hash: parent,
          blocks: hashes.map((h) => ({ block_hash: h + 7_000_000n, tokens_hash: h })),
        },
      },
    },
  };
}

/** Hashes above 2^53 and 2^63, so a lost digit or a sign would show. */
const H = [2n ** 63n + 11n, 2n ** 53n + 1n, 2n ** 64n - 5n, 42n, 2n ** 32n + 3n, 2n ** 40n];

/** Returns how many ranks matched, so a test can tell it compared something. */
function expectSameAsTierDepths(events: RouterEvent[], query: bigint[]): number {
  const partition = new KvIndexPartition();
  const reference = new TieredKvIndex();
  for (const e of events) {
    partition.apply(e);
    reference.applyEvent(e);
  }
  const expected = reference.findTierDepths(query).map((d) => ({
    workerId: d.worker_id,
    dpRank: d.dp_rank,
    device: d.device,
    host: d.host,
    disk: d.disk,
  }));
  expect(partition.findMatches(BigUint64Array.from(query))).toEqual(expected);
  return expected.length;
}

describe('KvIndexPartition.findMatches', () => {
  it('device-only partitions (the halves path) match the tiered index exactly', () => {
    const events = [
      stored(1n, 0, 'device', null, H.slice(0, 4)),
      stored(2n ** 64n - 1n, 3, 'device', null, H.slice(0, 2)),
      stored(9n, 1, 'device', null, [H[0]!, 5n]),
    ];
    expect(expectSameAsTierDepths(events, H)).toBe(3);
    expect(expectSameAsTierDepths(events, H.slice(0, 1))).toBe(3);
    expect(expectSameAsTierDepths(events, [99n])).toBe(0);
  });

  it('partitions with lower-tier blocks take the tiered path', () => {
    const events = [
      stored(1n, 0, 'device', null, H.slice(0, 2)),
      stored(1n, 0, 'host_pinned', H[1]! + 7_000_000n, H.slice(2, 4)),
      stored(2n, 0, 'disk', null, H.slice(0, 3)),
    ];
    expect(expectSameAsTierDepths(events, H)).toBe(2);
  });
});
