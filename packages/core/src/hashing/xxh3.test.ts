import { xxh3 } from '@node-rs/xxhash';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { U64_MAX } from '../u64.ts';
import { xxh3_64, xxh3_64_chain, xxh3_64_utf8, xxh3_64_windows } from './xxh3.ts';

// @node-rs/xxhash (the reference C implementation behind NAPI) is the oracle for our WASM XXH3-64.
const reference = (bytes: Uint8Array, seed: bigint) => xxh3.xxh64(bytes, seed);
const runSeed = Date.now() >>> 0;
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });

describe(`xxh3_64 against @node-rs/xxhash (fast-check seed ${runSeed})`, () => {
  it('every length 0..2048 (all length classes, long path up to two 1 KiB blocks) with fixed and random seeds', () => {
    for (let len = 0; len <= 2048; len++) {
      const samples = fc.sample(fc.tuple(fc.uint8Array({ minLength: len, maxLength: len }), u64), {
        numRuns: 1,
        seed: runSeed + len,
      });
      for (const [bytes, randomSeed] of samples) {
        for (const seed of [0n, 1337n, U64_MAX, randomSeed]) {
          const got = xxh3_64(bytes, seed);
          if (got !== reference(bytes, seed)) {
            expect.fail(`len ${len} seed ${seed}: got ${got}, want ${reference(bytes, seed)}`);
          }
        }
      }
    }
  });

  it('hashes a view at any offset of a larger buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), fc.nat(600), (bytes, a, b) => {
        const view = bytes.subarray(Math.min(a, b), Math.max(a, b));
        expect(xxh3_64(view, 99n)).toBe(reference(view, 99n));
      }),
      { seed: runSeed },
    );
  });

  it('hashes UTF-8 text, including multi-byte characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), u64, (text, seed) => {
        expect(xxh3_64_utf8(text, seed)).toBe(reference(new TextEncoder().encode(text), seed));
      }),
      { seed: runSeed },
    );
  });

  it('keeps working across WASM memory growth (views re-created after grow)', () => {
    const small = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(xxh3_64(small, 7n)).toBe(reference(small, 7n));
    const big = new Uint8Array(5 * 1024 * 1024 + 3).map((_, i) => (i * 131) & 0xff);
    expect(xxh3_64(big, 7n)).toBe(reference(big, 7n));
    expect(xxh3_64(small, 7n)).toBe(reference(small, 7n));
    const windows = xxh3_64_windows(big, 64, 64, Math.floor(big.length / 64), 7n);
    expect(windows[windows.length - 1]).toBe(
      reference(big.subarray((windows.length - 1) * 64).subarray(0, 64), 7n),
    );
  });
});

describe('xxh3_64_windows', () => {
  it('equals one xxh3_64 per window, for every window size class, overlapping or sparse strides', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 40 }),
        u64,
        (window, stride, count, seed) => {
          const bytes = fc.sample(
            fc.uint8Array({ minLength: count * stride + window, maxLength: count * stride + window }),
            {
              numRuns: 1,
              seed: window + stride + count,
            },
          )[0]!;
          const want = Array.from({ length: count }, (_, i) =>
            reference(bytes.subarray(i * stride, i * stride + window), seed),
          );
          expect([...xxh3_64_windows(bytes, window, stride, count, seed)]).toEqual(want);
        },
      ),
      { seed: runSeed, numRuns: 300 },
    );
  });

  it('refuses windows that run past the input and bad lengths', () => {
    expect(() => xxh3_64_windows(new Uint8Array(127), 64, 64, 2, 0n)).toThrow(RangeError);
    expect(() => xxh3_64_windows(new Uint8Array(128), -1, 64, 2, 0n)).toThrow(/window/);
    expect(() => xxh3_64_windows(new Uint8Array(128), 64, 1.5, 2, 0n)).toThrow(/stride/);
    expect(xxh3_64_windows(new Uint8Array(0), 64, 64, 0, 0n).length).toBe(0);
  });
});

describe('xxh3_64_chain', () => {
  it('equals the step-by-step chain over 16-byte pairs, wrapping inputs to u64', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 65n }), { maxLength: 50 }),
        u64,
        (values, seed) => {
          const want: bigint[] = [];
          const pair = new DataView(new ArrayBuffer(16));
          values.forEach((v, i) => {
            if (i === 0) want.push(BigInt.asUintN(64, v));
            else {
              pair.setBigUint64(0, want[i - 1]!, true);
              pair.setBigUint64(8, BigInt.asUintN(64, v), true);
              want.push(reference(new Uint8Array(pair.buffer), seed));
            }
          });
          expect([...xxh3_64_chain(values, seed)]).toEqual(want);
          expect([
            ...xxh3_64_chain(
              BigUint64Array.from(values, (v) => BigInt.asUintN(64, v)),
              seed,
            ),
          ]).toEqual(want);
        },
      ),
      { seed: runSeed },
    );
  });
});
