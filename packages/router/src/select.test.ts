import { SeededRandom } from '@kvindex/simulator';
import { describe, expect, it } from 'vitest';
import { selectCandidate, softmaxProbabilities } from './select.ts';

function seeded(seed: bigint): () => number {
  const rng = new SeededRandom(seed);
  return () => rng.nextU32() / 2 ** 32;
}

const never = () => {
  throw new Error('random must not be consulted');
};

describe('selectCandidate at temperature 0', () => {
  it('takes the lowest logit without drawing', () => {
    const c = [
      { key: 'a', logit: 5, treeSize: 0 },
      { key: 'b', logit: 3, treeSize: 100 },
      { key: 'c', logit: 4, treeSize: 0 },
    ];
    expect(selectCandidate(c, 0, never).key).toBe('b');
  });

  it('breaks an exact logit tie by the smallest tree', () => {
    const c = [
      { key: 'a', logit: 3, treeSize: 50 },
      { key: 'b', logit: 3, treeSize: 20 },
      { key: 'c', logit: 3, treeSize: 90 },
    ];
    expect(selectCandidate(c, 0, never).key).toBe('b');
  });

  it('breaks a full tie uniformly at random', () => {
    const c = ['a', 'b', 'c', 'd'].map((key) => ({ key, logit: 1, treeSize: 0 }));
    const random = seeded(7n);
    const counts = new Map<string, number>();
    const draws = 40_000;
    for (let i = 0; i < draws; i++) {
      const k = selectCandidate(c, 0, random).key;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    // Each expected 10,000; 5 standard deviations (≈ 87) is far below the 400 allowed.
    for (const k of ['a', 'b', 'c', 'd']) expect(Math.abs(counts.get(k)! - draws / 4)).toBeLessThan(400);
  });
});

describe('temperature sampling', () => {
  it('gives p ∝ exp(−(logit − min) / ((max − min) · T))', () => {
    // Range 4, T = 0.5: exponents 0, −1, −2.
    const p = softmaxProbabilities([2, 4, 6], 0.5);
    const w = [1, Math.exp(-1), Math.exp(-2)];
    const sum = w[0]! + w[1]! + w[2]!;
    expect(p[0]).toBeCloseTo(w[0]! / sum, 12);
    expect(p[1]).toBeCloseTo(w[1]! / sum, 12);
    expect(p[2]).toBeCloseTo(w[2]! / sum, 12);
  });

  it('is uniform when all logits are equal', () => {
    expect(softmaxProbabilities([3, 3, 3, 3], 1)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('draws match the probabilities over many seeded draws', () => {
    const c = [
      { key: 0, logit: 10, treeSize: 0 },
      { key: 1, logit: 12, treeSize: 0 },
      { key: 2, logit: 20, treeSize: 0 },
    ];
    const T = 0.3;
    const p = softmaxProbabilities(
      c.map((x) => x.logit),
      T,
    );
    const random = seeded(42n);
    const counts = [0, 0, 0];
    const draws = 50_000;
    for (let i = 0; i < draws; i++) counts[selectCandidate(c, T, random).key]!++;
    for (let i = 0; i < 3; i++) {
      const sd = Math.sqrt(draws * p[i]! * (1 - p[i]!));
      expect(Math.abs(counts[i]! - draws * p[i]!)).toBeLessThan(5 * sd + 1);
    }
    // The worst candidate still gets its small share: sampling, not argmin.
    expect(counts[2]).toBeGreaterThan(0);
  });

  it('a higher temperature spreads the draws', () => {
    const logits = [0, 1];
    expect(softmaxProbabilities(logits, 10)[1]).toBeGreaterThan(softmaxProbabilities(logits, 0.1)[1]!);
  });

  it('refuses an empty candidate list', () => {
    expect(() => selectCandidate([], 0, Math.random)).toThrow(/no candidates/);
  });
});
