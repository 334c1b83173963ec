import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { popcount, WorkerBits } from './worker-bits.ts';

describe('WorkerBits', () => {
  it('behaves as a Set of small integers', () => {
    const op = fc.record({ add: fc.boolean(), worker: fc.integer({ min: 0, max: 100 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const bits = new WorkerBits();
        const model = new Set<number>();
        for (const { add, worker } of ops) {
          if (add) {
            bits.add(worker);
            model.add(worker);
          } else {
            bits.delete(worker);
            model.delete(worker);
          }
          expect(bits.size).toBe(model.size);
          expect(bits.has(worker)).toBe(model.has(worker));
        }
        expect(bits.toArray()).toEqual([...model].sort((a, b) => a - b));
        expect(bits.clone().equals(bits)).toBe(true);
      }),
    );
  });

  it('counts bits of negative int32 words', () => {
    expect(popcount(-1)).toBe(32);
    expect(popcount(1 << 31)).toBe(1);
    expect(popcount(0)).toBe(0);
  });
});
