import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, parseJsonExact, stringifyJsonExact } from './json-exact.ts';

describe('parseJsonExact', () => {
  it('keeps u64 and i64 extremes exact', () => {
    const v = parseJsonExact(
      '{"a":18446744073709551615,"b":-9223372036854775808,"c":9007199254740993,"d":12}',
    ) as Record<string, unknown>;
    expect(v.a).toBe(18446744073709551615n);
    expect(v.b).toBe(-9223372036854775808n);
    expect(v.c).toBe(9007199254740993n);
    expect(v.d).toBe(12);
  });
  it('keeps safe integers as numbers and parses floats', () => {
    expect(parseJsonExact('[9007199254740991, 1.5, -0.25e2, 1E3, 0]')).toEqual([
      9007199254740991, 1.5, -25, 1000, 0,
    ]);
  });
  it('agrees with JSON.parse on ordinary documents', () => {
    const doc =
      '{"s":"a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00","t":true,"f":false,"n":null,"arr":[[],{}],"x":{"y":[1,2]}}';
    expect(parseJsonExact(doc)).toEqual(JSON.parse(doc));
  });
  it('does not let "__proto__" replace the prototype', () => {
    const v = parseJsonExact('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect((v as { polluted?: number }).polluted).toBeUndefined();
  });
  it.each([
    '',
    '{',
    '[1,]',
    '{"a":1,}',
    '01',
    '1.',
    '-',
    '"abc',
    '"\\x"',
    '"\\u12"',
    'tru',
    '[1] 2',
    '{"a" 1}',
    '"a\nb"',
  ])('rejects %j with a JsonSyntaxError', (text) => {
    expect(() => parseJsonExact(text)).toThrow(JsonSyntaxError);
  });
  it('refuses absurd nesting instead of overflowing the stack', () => {
    expect(() => parseJsonExact('['.repeat(100_000))).toThrow(/nesting too deep/);
  });
  it('round-trips any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        // Integers beyond 2^53 come back as exact BigInts; as doubles they must equal JSON.parse's.
        const asDoubles = JSON.parse(stringifyJsonExact(parseJsonExact(text)));
        expect(asDoubles).toEqual(JSON.parse(text));
        expect(stringifyJsonExact(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
  it('round-trips u64 bigints (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), (values) => {
        const back = parseJsonExact(stringifyJsonExact(values)) as Array<number | bigint>;
        expect(back.map((v) => BigInt(v))).toEqual(values);
      }),
    );
  });
  it('never throws anything but JsonSyntaxError on random text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'{}[]",:0123456789-+.eEtruefalsn \\u') }), (text) => {
        try {
          parseJsonExact(text);
        } catch (err) {
          expect(err).toBeInstanceOf(JsonSyntaxError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('stringifyJsonExact', () => {
  it('writes bigints and typed arrays as bare integers', () => {
    expect(
      stringifyJsonExact({
        a: 18446744073709551615n,
        b: new BigUint64Array([1n, 2n ** 64n - 1n]),
        c: undefined,
      }),
    ).toBe('{"a":18446744073709551615,"b":[1,18446744073709551615]}');
  });
  it('writes non-finite numbers as null like JSON.stringify', () => {
    expect(stringifyJsonExact([Number.NaN, Number.POSITIVE_INFINITY, undefined])).toBe('[null,null,null]');
  });
});
