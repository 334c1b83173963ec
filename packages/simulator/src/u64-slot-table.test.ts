import { describe, expect, it } from 'vitest';
import { SeededRandom } from './rng.ts';
import { U64SlotTable, u64Words } from './u64-slot-table.ts';

describe('U64SlotTable', () => {
  it('agrees with a Map under random churn, colliding keys included', () => {
    const rng = new SeededRandom(9n);
    const table = new U64SlotTable(64);
    const model = new Map<bigint, number>();
    // Few distinct keys, many sharing their home bucket, so probe runs and backward shifts happen.
    const keys = Array.from(
      { length: 100 },
      (_, i) => (BigInt(rng.nextInt(4)) << 32n) | BigInt((i % 7) * 64),
    );
    const words = u64Words(BigUint64Array.from(keys));
    for (let step = 0; step < 20000; step++) {
      const k = rng.nextInt(keys.length);
      const lo = words[2 * k]!;
      const hi = words[2 * k + 1]!;
      const key = keys[k]!;
      if (model.has(key)) {
        expect(table.get(lo, hi)).toBe(model.get(key));
        if (rng.nextInt(2) === 0) {
          expect(table.delete(lo, hi)).toBe(true);
          model.delete(key);
        }
      } else {
        expect(table.get(lo, hi)).toBe(-1);
        if (model.size < 64) {
          table.insert(lo, hi, step);
          model.set(key, step);
        } else expect(table.delete(lo, hi)).toBe(false);
      }
      expect(table.size).toBe(model.size);
    }
    for (let k = 0; k < keys.length; k++) {
      expect(table.get(words[2 * k]!, words[2 * k + 1]!)).toBe(model.get(keys[k]!) ?? -1);
    }
  });

  it('u64Words splits values into little-endian halves', () => {
    expect([...u64Words(BigUint64Array.of(0x0000_0002_0000_0001n, 2n ** 64n - 1n))]).toEqual([
      1, 2, 0xffff_ffff, 0xffff_ffff,
    ]);
  });
});
