import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockHashSeed, computeBlockHashes, computeSequenceHashes } from './block-hash.ts';
import { xxh3_64_utf8 } from './xxh3.ts';

interface Vector {
  block_size: number;
  tokens: number[];
  lora_name: string | null;
  mm_hashes: Record<string, string[]>;
  local_hashes: string[];
  sequence_hashes: string[];
}

const vectors: Vector[] = readFileSync(new URL('../../fixtures/hash-vectors.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Vector); // tokens are u32 and hashes are decimal strings: JSON.parse is exact here

describe('golden hash vectors (XXH3-64, Dynamo compute_block_hash_for_seq)', () => {
  it('has all 300 cases', () => expect(vectors.length).toBe(300));

  it.each(vectors.map((v, i) => [i, v] as const))('case %i matches exactly', (_i, v) => {
    const mmHashes = new Map(
      Object.entries(v.mm_hashes).map(([k, hs]) => [Number(k), hs.map((h) => BigInt(h))]),
    );
    const local = computeBlockHashes(v.tokens, v.block_size, { loraName: v.lora_name, mmHashes });
    expect([...local].map(String)).toEqual(v.local_hashes);
    expect([...computeSequenceHashes(local)].map(String)).toEqual(v.sequence_hashes);
    // Uint32Array input takes the zero-copy path and must agree.
    expect(
      computeBlockHashes(Uint32Array.from(v.tokens), v.block_size, { loraName: v.lora_name, mmHashes }),
    ).toEqual(local);
  });
});

describe("Dynamo's own goldens", () => {
  it('XXH3-64("test data", 1337)', () => {
    expect(xxh3_64_utf8('test data', 1337n)).toBe(13226331709069118873n);
  });
  it('local and sequence hashes of [1..8] at block size 4', () => {
    const local = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4);
    expect([...local]).toEqual([14643705804678351452n, 16777012769546811212n]);
    expect([...computeSequenceHashes(local)]).toEqual([14643705804678351452n, 4945711292740353085n]);
  });
  it('cache salt and LoRA seed terms', () => {
    expect([...computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { cacheSalt: 'salt1' })]).toEqual([
      11714000504852504320n,
      5888482415524602018n,
    ]);
    expect([
      ...computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { cacheSalt: 'salt1', loraName: 'my-adapter' }),
    ]).toEqual([2497289401815760574n, 8880113332426591141n]);
  });
  it('EAGLE windows of blockSize + 1 at stride blockSize', () => {
    expect([...computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, { eagle: true })]).toEqual([
      1914873892905420881n,
      1929047464662796003n,
    ]);
    expect(computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { eagle: true }).length).toBe(1);
  });
});

describe('edges and bad input', () => {
  it('blockSize 0 and short inputs give no blocks', () => {
    expect(computeBlockHashes([1, 2, 3], 0).length).toBe(0);
    expect(computeBlockHashes([1, 2, 3], 4).length).toBe(0);
    expect(computeBlockHashes([], 4, { eagle: true }).length).toBe(0);
    expect(computeSequenceHashes([]).length).toBe(0);
  });
  it('drops a trailing partial block', () => {
    expect(computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8, 9], 4)).toEqual(
      computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4),
    );
  });
  it('accepts the full u32 range', () => {
    expect(computeBlockHashes([0, 4294967295, 0, 4294967295], 4).length).toBe(1);
  });
  it.each([[-1], [1.5], [2 ** 32], [Number.NaN]])(
    'refuses token %s with a RangeError naming the index',
    (bad) => {
      expect(() => computeBlockHashes([1, 2, bad, 4], 4)).toThrow(RangeError);
      expect(() => computeBlockHashes([1, 2, bad, 4], 4)).toThrow(/token_ids\[2\]/);
    },
  );
  it.each([['7'], [7n], [null], [{ valueOf: (): number => 7 }]])(
    'refuses non-number token %s naming the index',
    (bad) => {
      const tokens = [1, 2, bad, 4] as unknown as number[];
      expect(() => computeBlockHashes(tokens, 4)).toThrow(RangeError);
      expect(() => computeBlockHashes(tokens, 4)).toThrow(/token_ids\[2\]/);
    },
  );
  it('refuses a negative block size', () => {
    expect(() => computeBlockHashes([1, 2], -1)).toThrow(RangeError);
  });
  it('an empty LoRA name or salt is no salt', () => {
    expect(blockHashSeed('', '')).toBe(1337n);
    expect(blockHashSeed(null, undefined)).toBe(1337n);
  });
  it('mm hashes are sorted before hashing and only touch their block', () => {
    const a = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { mmHashes: new Map([[1, [5n, 3n]]]) });
    const b = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { mmHashes: new Map([[1, [3n, 5n]]]) });
    const plain = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4);
    expect(a).toEqual(b);
    expect(a[0]).toBe(plain[0]);
    expect(a[1]).not.toBe(plain[1]);
  });
});
