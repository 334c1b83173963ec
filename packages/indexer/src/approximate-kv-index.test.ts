import { describe, expect, it } from 'vitest';
import { ApproximateKvIndex } from './approximate-kv-index.ts';

const q = (...tokens: number[]) => tokens.map(BigInt);

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function scores(index: ApproximateKvIndex, tokens: bigint[]) {
  const m = index.findMatches(tokens);
  return Object.fromEntries(
    Array.from({ length: m.count }, (_, i) => [`${m.workerIds[i]}:${m.dpRanks[i]}`, m.scores[i]]),
  );
}

describe('ApproximateKvIndex', () => {
  it('holds a routed chain for the TTL, rounded up to 100 ms buckets', () => {
    const c = clock(1_000_050);
    const index = new ApproximateKvIndex({ now: c.now });
    index.recordRouting(1n, 0, q(1, 2, 3));
    expect(scores(index, q(1, 2, 3))).toEqual({ '1:0': 3 });
    c.t = 1_000_050 + 120_000; // expiry is the next bucket boundary, 1_120_100
    expect(scores(index, q(1, 2, 3))).toEqual({ '1:0': 3 });
    c.t = 1_120_100;
    expect(scores(index, q(1, 2, 3))).toEqual({});
    expect(index.size).toBe(0);
  });

  it('refreshes the expiry on re-insert; an unrefreshed suffix expires first', () => {
    const c = clock();
    const index = new ApproximateKvIndex({ now: c.now, ttlMs: 1_000 });
    index.recordRouting(1n, 0, q(1, 2, 3, 4));
    c.t += 600;
    index.recordRouting(1n, 0, q(1, 2));
    c.t += 500;
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 2 });
    c.t += 600;
    expect(scores(index, q(1, 2, 3, 4))).toEqual({});
  });

  it('prunes past maxTreeSize to the target ratio, earliest expiry first', () => {
    const c = clock();
    const index = new ApproximateKvIndex({ now: c.now, maxTreeSize: 10, pruneTargetRatio: 0.5 });
    index.recordRouting(1n, 0, q(1, 2, 3, 4));
    c.t += 1_000;
    index.recordRouting(2n, 0, q(5, 6, 7, 8));
    c.t += 1_000;
    index.recordRouting(3n, 0, q(9, 10, 11));
    expect(index.size).toBe(5);
    expect(scores(index, q(1, 2, 3, 4))).toEqual({});
    expect(scores(index, q(5, 6, 7, 8))).toEqual({ '2:0': 2 });
    expect(scores(index, q(9, 10, 11))).toEqual({ '3:0': 3 });
  });
});
