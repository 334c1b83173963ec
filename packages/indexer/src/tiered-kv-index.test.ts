import { describe, expect, it } from 'vitest';
import { chain, cleared, removed, stored } from './test-support/events.ts';
import { TieredKvIndex } from './tiered-kv-index.ts';

const q = (...tokens: number[]) => tokens.map(BigInt);
const depths = (index: TieredKvIndex, tokens: bigint[]) =>
  Object.fromEntries(
    index.findTierDepths(tokens).map((d) => [`${d.worker_id}:${d.dp_rank}`, [d.device, d.host, d.disk]]),
  );

describe('TieredKvIndex', () => {
  it('counts host and disk blocks continuing the device chain, cumulatively', () => {
    const index = new TieredKvIndex();
    index.applyEvent(stored(1, null, chain(101, 2)));
    index.applyEvent(stored(1, 102, [[103, 3]], { tier: 'host_pinned' }));
    index.applyEvent(stored(1, 103, [[104, 4]], { tier: 'disk' }));
    index.applyEvent(stored(1, 104, [[105, 5]], { tier: 'external' }));
    expect(depths(index, q(1, 2, 3, 4, 5))).toEqual({ '1:0': [2, 3, 5] });
    expect(depths(index, q(1, 2, 9))).toEqual({ '1:0': [2, 2, 2] });
  });

  it('reports a rank matching only in a lower tier, with device 0', () => {
    const index = new TieredKvIndex();
    index.applyEvent(stored(3, null, chain(301, 2), { tier: 'host_pinned' }));
    expect(depths(index, q(1, 2))).toEqual({ '3:0': [0, 2, 2] });
    expect(index.findMatches(q(1, 2)).count).toBe(0);
  });

  it('a removed on one tier leaves the other tiers', () => {
    const index = new TieredKvIndex();
    index.applyEvent(stored(1, null, chain(101, 2)));
    index.applyEvent(stored(1, null, chain(101, 2), { tier: 'host_pinned' }));
    expect(index.applyEvent(removed(1, [101], { tier: 'host_pinned' }))).toBe('ok');
    expect(depths(index, q(1, 2))).toEqual({ '1:0': [2, 2, 2] });
    expect(index.applyEvent(removed(1, [101]))).toBe('ok');
    expect(depths(index, q(1, 2))).toEqual({});
  });

  it('a cleared event drops its (worker, dp_rank) on every tier, whichever tier it names', () => {
    for (const tier of ['device', 'host_pinned'] as const) {
      const index = new TieredKvIndex();
      index.applyEvent(stored(1, null, chain(101, 2)));
      index.applyEvent(stored(1, 102, [[103, 3]], { tier: 'host_pinned' }));
      index.applyEvent(stored(2, null, chain(201, 2)));
      expect(index.applyEvent(cleared(1, { tier }))).toBe('ok');
      expect(depths(index, q(1, 2, 3))).toEqual({ '2:0': [2, 2, 2] });
    }
  });

  it('worker removal drops every tier', () => {
    const index = new TieredKvIndex();
    index.applyEvent(stored(1, null, chain(101, 1), { dp: 1 }));
    index.applyEvent(stored(1, 101, [[102, 2]], { tier: 'host_pinned', dp: 1 }));
    index.removeWorkerDpRank(1n, 1);
    expect(depths(index, q(1, 2))).toEqual({});
  });
});
