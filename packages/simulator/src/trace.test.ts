import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expandTokens, parseTrace, parseTraceLine, TOKENS_PER_HASH_ID, TraceFormatError } from './trace.ts';

const SLICE = new URL('../traces/conversation-slice.jsonl', import.meta.url);

describe('expandTokens', () => {
  it('turns hash id h into (h·512 + j) mod 2^32 and cuts to input_length', () => {
    const tokens = expandTokens({ timestamp: 0, inputLength: 600, outputLength: 1, hashIds: [3, 0] });
    expect(tokens).toBeInstanceOf(Uint32Array);
    expect(tokens.length).toBe(600);
    for (let j = 0; j < 512; j++) expect(tokens[j]).toBe(3 * 512 + j);
    for (let j = 512; j < 600; j++) expect(tokens[j]).toBe(j - 512);
  });

  it('wraps at 2^32 exactly', () => {
    const big = 2 ** 23 - 1; // the last id whose tokens fit below 2^32 unwrapped
    const tokens = expandTokens({
      timestamp: 0,
      inputLength: 1024,
      outputLength: 0,
      hashIds: [big, 2 ** 23 + 5],
    });
    expect(tokens[0]).toBe(big * 512);
    expect(tokens[511]).toBe(2 ** 32 - 1);
    const expected = Number((BigInt(2 ** 23 + 5) * 512n) % 2n ** 32n);
    expect(tokens[512]).toBe(expected);
    expect(tokens[512]).toBe(5 * 512);
    const huge = Number.MAX_SAFE_INTEGER;
    const t = expandTokens({ timestamp: 0, inputLength: 2, outputLength: 0, hashIds: [huge] });
    expect(t[1]).toBe(Number((BigInt(huge) * 512n + 1n) % 2n ** 32n));
  });

  it('gives equal tokens for equal ids at any position', () => {
    const a = expandTokens({ timestamp: 0, inputLength: 1024, outputLength: 0, hashIds: [7, 9] });
    const b = expandTokens({ timestamp: 0, inputLength: 1024, outputLength: 0, hashIds: [9, 7] });
    expect(a.subarray(0, 512)).toEqual(b.subarray(512));
  });
});

describe('parseTrace', () => {
  it('reads the bundled slice: 2,000 requests, lengths within their hash ids', () => {
    const trace = parseTrace(readFileSync(SLICE, 'utf8'));
    expect(trace.length).toBe(2000);
    expect(trace[0]).toEqual({
      timestamp: 0,
      inputLength: 6758,
      outputLength: 500,
      hashIds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    });
    for (const r of trace) expect(r.inputLength).toBeLessThanOrEqual(r.hashIds.length * TOKENS_PER_HASH_ID);
  });

  it('honours a limit and skips blank lines', () => {
    const text =
      '\n{"timestamp": 1, "input_length": 3, "output_length": 2, "hash_ids": [4]}\n\n' +
      '{"timestamp": 2, "input_length": 0, "output_length": 0, "hash_ids": []}\n';
    expect(parseTrace(text).map((r) => r.timestamp)).toEqual([1, 2]);
    expect(parseTrace(text, { limit: 1 }).length).toBe(1);
  });

  it.each([
    ['{"timestamp": 0, "input_length": 3, "output_length": 2', /trace:3: invalid JSON/],
    ['[1, 2]', /trace:3: expected a JSON object/],
    [
      '{"timestamp": 0, "output_length": 2, "hash_ids": [1]}',
      /trace:3: "input_length" must be a non-negative integer/,
    ],
    ['{"timestamp": 0, "input_length": -1, "output_length": 2, "hash_ids": [1]}', /"input_length"/],
    ['{"timestamp": "x", "input_length": 1, "output_length": 2, "hash_ids": [1]}', /"timestamp"/],
    ['{"timestamp": 0, "input_length": 1, "output_length": 2, "hash_ids": 5}', /"hash_ids" must be an array/],
    ['{"timestamp": 0, "input_length": 1, "output_length": 2, "hash_ids": [1, -2]}', /hash_ids\[1\]/],
    ['{"timestamp": 0, "input_length": 1, "output_length": 2, "hash_ids": [1.5]}', /hash_ids\[0\]/],
    [
      '{"timestamp": 0, "input_length": 1, "output_length": 2, "hash_ids": [18446744073709551615]}',
      /below 2\^53/,
    ],
    ['{"timestamp": 0, "input_length": 513, "output_length": 2, "hash_ids": [1]}', /exceeds the 1 hash ids/],
  ])('a bad line %s is a TraceFormatError naming its line', (bad, message) => {
    const good = '{"timestamp": 0, "input_length": 3, "output_length": 2, "hash_ids": [4]}';
    const text = `${good}\n${good}\n${bad}\n${good}\n`;
    expect(() => parseTrace(text)).toThrow(TraceFormatError);
    expect(() => parseTrace(text)).toThrow(message);
    try {
      parseTrace(text, { source: 'x.jsonl' });
    } catch (err) {
      expect((err as TraceFormatError).line).toBe(3);
      expect((err as Error).message.startsWith('x.jsonl:3: ')).toBe(true);
    }
  });

  it('parseTraceLine returns null for blank lines', () => {
    expect(parseTraceLine('   ', 1)).toBeNull();
  });
});
