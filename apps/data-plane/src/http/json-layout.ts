/**
 * Byte ranges of a JSON document's top-level fields and array elements. The exact parser gives
 * values without positions; these ranges recover what serde_json would know while decoding: where
 * a value ends (for "at line 1 column 18") and whether an integer-valued number was written as a
 * float literal (`1.0` is not a u64 to serde).
 */

export interface Range {
  start: number;
  end: number;
}

export function skipWs(b: Uint8Array, p: number): number {
  while (p < b.length) {
    const c = b[p]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
    else break;
  }
  return p;
}

/** End (exclusive) of the well-formed value starting at `p`. */
export function skipValue(b: Uint8Array, p: number): number {
  p = skipWs(b, p);
  const c = b[p];
  if (c === 0x22) return skipString(b, p);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    while (p < b.length) {
      const d = b[p]!;
      if (d === 0x22) {
        p = skipString(b, p);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return p + 1;
      }
      p++;
    }
    return p;
  }
  while (p < b.length) {
    const d = b[p]!;
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    p++;
  }
  return p;
}

function skipString(b: Uint8Array, p: number): number {
  p++;
  while (p < b.length) {
    const c = b[p]!;
    if (c === 0x5c) p += 2;
    else if (c === 0x22) return p + 1;
    else p++;
  }
  return p;
}

const decoder = new TextDecoder();

/** Ranges of each top-level key's value (first occurrence), plus the document's end. */
export function topLevelLayout(b: Uint8Array): { fields: Map<string, Range>; end: number } {
  const fields = new Map<string, Range>();
  let p = skipWs(b, 0);
  if (b[p] !== 0x7b) return { fields, end: skipValue(b, p) };
  p++;
  for (;;) {
    p = skipWs(b, p);
    if (b[p] === 0x7d) return { fields, end: p + 1 };
    if (b[p] !== 0x22) return { fields, end: b.length };
    const keyEnd = skipString(b, p);
    const key = decodeKey(b.subarray(p, keyEnd));
    p = skipWs(b, keyEnd);
    p = skipWs(b, p + 1); // ':'
    const end = skipValue(b, p);
    if (!fields.has(key)) fields.set(key, { start: p, end });
    p = skipWs(b, end);
    if (b[p] === 0x2c) p++;
  }
}

function decodeKey(raw: Uint8Array): string {
  const text = decoder.decode(raw);
  if (!text.includes('\\')) return text.slice(1, -1);
  try {
    return JSON.parse(text) as string;
  } catch {
    return text.slice(1, -1);
  }
}

/** Range of element `index` of the array at `range`. */
export function elementRange(b: Uint8Array, range: Range, index: number): Range | undefined {
  let p = skipWs(b, range.start);
  if (b[p] !== 0x5b) return undefined;
  p++;
  for (let i = 0; p < range.end; i++) {
    p = skipWs(b, p);
    if (b[p] === 0x5d) return undefined;
    const end = skipValue(b, p);
    if (i === index) return { start: p, end };
    p = skipWs(b, end);
    if (b[p] === 0x2c) p++;
  }
  return undefined;
}

/** Whether the number literal in `range` has a fraction or exponent. */
export function isFloatLiteral(b: Uint8Array, range: Range): boolean {
  for (let p = range.start; p < range.end; p++) {
    const c = b[p]!;
    if (c === 0x2e || c === 0x65 || c === 0x45) return true;
  }
  return false;
}

/** Index of the first float-literal element of the number array at `range`, or -1. */
export function firstFloatElement(b: Uint8Array, range: Range): number {
  let any = false;
  for (let p = range.start; p < range.end; p++) {
    const c = b[p]!;
    if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x22) {
      any = true;
      break;
    }
  }
  if (!any) return -1;
  let p = skipWs(b, range.start) + 1;
  for (let i = 0; p < range.end; i++) {
    p = skipWs(b, p);
    if (b[p] === 0x5d) return -1;
    const end = skipValue(b, p);
    const c = b[p]!;
    if ((c === 0x2d || (c >= 0x30 && c <= 0x39)) && isFloatLiteral(b, { start: p, end })) return i;
    p = skipWs(b, end);
    if (b[p] === 0x2c) p++;
  }
  return -1;
}
