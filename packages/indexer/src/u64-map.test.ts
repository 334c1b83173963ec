import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { U64Map } from './u64-map.ts';

describe('U64Map', () => {
  it('behaves as a Map under random sets and deletes, including colliding low halves', () => {
    // Halves as int32, the index's internal form (0xffff_ffff is -1).
    const key = fc.record({
      lo: fc.constantFrom(0, 1, 0xffff_ffff | 0, 7, -0x8000_0000),
      hi: fc.integer({ min: -3, max: 40 }),
    });
    const op = fc.record({ del: fc.boolean(), key, value: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const map = new U64Map(2);
        const model = new Map<string, number>();
        for (const { del, key: k, value } of ops) {
          const name = `${k.lo}/${k.hi}`;
          if (del) expect(map.delete(k.lo, k.hi)).toBe(model.get(name) ?? -1);
          else expect(map.set(k.lo, k.hi, value)).toBe(model.get(name) ?? -1);
          if (del) model.delete(name);
          else model.set(name, value);
          expect(map.size).toBe(model.size);
        }
        for (const [name, value] of model) {
          const [lo, hi] = name.split('/').map(Number);
          expect(map.get(lo!, hi!)).toBe(value);
        }
        const seen = new Map<string, number>();
        map.forEach((lo, hi, v) => {
          seen.set(`${lo}/${hi}`, v);
        });
        expect(seen).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});
