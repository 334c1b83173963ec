import type { StructSpec } from './serde-struct.ts';

/**
 * A single-pass reader for the common, well-formed shape of a request whose fields are strings
 * and u32 arrays (`/query`): `{"token_ids": [1, 2, ...], "model_name": "m"}`. Token ids go
 * straight from the bytes into a Uint32Array, with no UTF-8 decode, no generic JSON parse of
 * thousands of numbers and no per-element type check afterwards.
 *
 * It only ever accepts: anything it is not sure about (an escape or a non-ASCII byte in a string,
 * a negative, fractional, exponent or out-of-range number, a nested value in an unknown field, a
 * repeated field, a missing required field, any syntax error) returns undefined, and the caller
 * runs the exact parser and serde-style decoder, which produce Dynamo's 400/422 bodies. So error
 * responses never come from here, and an accepted body decodes to what the exact path would give.
 */

type FieldKind = 'string' | 'u32[]';

interface FieldInfo {
  kind: FieldKind;
  /** Rust `Option<T>`: null is accepted and means None. */
  nullable: boolean;
  /** This field's bit in the `seen` mask. */
  bit: number;
}

const WS_SPACE = 0x20;
const WS_TAB = 0x09;
const WS_LF = 0x0a;
const WS_CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;
const DOT = 0x2e;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const U32_MAX = 0xffff_ffff;

/** Signals "not the simple shape": the caller falls back to the exact path. */
const NOT_SIMPLE = -1;

export class PlainStructScanner {
  private readonly kinds = new Map<string, FieldInfo>();
  /** Bits of the required fields, by declaration order. */
  private readonly requiredBits: number = 0;
  /** Token ids are gathered here; results are views into it. */
  private scratch: Uint32Array = new Uint32Array(16384);
  private b: Uint8Array = new Uint8Array(0);

  /** Throws if the spec has a field kind this reader does not handle (a programming error). */
  constructor(spec: StructSpec) {
    if (spec.fields.length > 30) throw new Error(`PlainStructScanner: ${spec.name} has too many fields`);
    for (const [index, f] of spec.fields.entries()) {
      if (f.kind !== 'string' && f.kind !== 'u32[]')
        throw new Error(`PlainStructScanner: ${spec.name}.${f.name} is ${f.kind}`);
      const bit = 1 << index;
      this.kinds.set(f.name, { kind: f.kind, nullable: f.optional === true, bit });
      if (!f.optional && !f.defaulted) this.requiredBits |= bit;
    }
  }

  /**
   * The decoded fields (as `decodeStruct` returns them), or undefined: use the exact path.
   *
   * A u32 array field is a view into this scanner's buffer, valid until its next scan: use it
   * synchronously and copy what must outlive the request. That is what saves /query a 32 KB
   * allocation per request (off-heap memory that drives V8's full collections).
   */
  scan(bytes: Uint8Array): Record<string, unknown> | undefined {
    this.b = bytes;
    try {
      return this.object();
    } finally {
      this.b = new Uint8Array(0);
    }
  }

  private object(): Record<string, unknown> | undefined {
    const b = this.b;
    let i = this.ws(0);
    if (b[i] !== OPEN_BRACE) return undefined;
    i = this.ws(i + 1);
    const out: Record<string, unknown> = {};
    let seen = 0;
    if (b[i] === CLOSE_BRACE) return this.finish(out, seen, i + 1);
    for (;;) {
      const keyEnd = this.plainString(i);
      if (keyEnd === NOT_SIMPLE) return undefined;
      const key = asciiText(b, i + 1, keyEnd - 1);
      i = this.ws(keyEnd);
      if (b[i] !== COLON) return undefined;
      i = this.ws(i + 1);
      const field = this.kinds.get(key);
      if (field === undefined) {
        i = this.skipScalar(i);
      } else {
        // A repeated field: the exact path decides which value counts.
        if ((seen & field.bit) !== 0) return undefined;
        seen |= field.bit;
        i = this.fieldValue(i, key, field, out);
      }
      if (i === NOT_SIMPLE) return undefined;
      i = this.ws(i);
      if (b[i] === COMMA) {
        i = this.ws(i + 1);
        continue;
      }
      if (b[i] === CLOSE_BRACE) return this.finish(out, seen, i + 1);
      return undefined;
    }
  }

  private finish(
    out: Record<string, unknown>,
    seen: number,
    after: number,
  ): Record<string, unknown> | undefined {
    if (this.ws(after) !== this.b.length) return undefined;
    // A missing required field is a 422 with serde's position: the exact path's to report.
    if ((seen & this.requiredBits) !== this.requiredBits) return undefined;
    return out;
  }

  private fieldValue(i: number, key: string, field: FieldInfo, out: Record<string, unknown>): number {
    const b = this.b;
    // Option<T>: null is None, left out of the result as decodeStruct leaves it.
    if (field.nullable && isLiteral(b, i, 'null')) return i + 4;
    if (field.kind === 'string') {
      const end = this.plainString(i);
      if (end === NOT_SIMPLE) return NOT_SIMPLE;
      out[key] = asciiText(b, i + 1, end - 1);
      return end;
    }
    return this.u32Array(i, key, out);
  }

  private u32Array(start: number, key: string, out: Record<string, unknown>): number {
    const b = this.b;
    if (b[start] !== OPEN_BRACKET) return NOT_SIMPLE;
    const end = b.length;
    let scratch = this.scratch;
    let n = 0;
    let i = start + 1;
    // The hot loop of a /query: locals only and explicit bounds, so it stays one tight loop.
    i = skipWs(b, i, end);
    if (i < end && b[i] === CLOSE_BRACKET) {
      out[key] = new Uint32Array(0);
      return i + 1;
    }
    for (;;) {
      if (i >= end) return NOT_SIMPLE;
      let value = b[i]! - DIGIT_0;
      if (value < 0 || value > 9) return NOT_SIMPLE;
      i++;
      let digits = 1;
      while (i < end) {
        const d = b[i]! - DIGIT_0;
        if (d < 0 || d > 9) break;
        value = value * 10 + d;
        digits++;
        i++;
      }
      // JSON has no leading zeros ("01" is the exact path's syntax error); u32 has 10 digits at most.
      if ((digits > 1 && b[i - digits] === DIGIT_0) || digits > 10 || value > U32_MAX) return NOT_SIMPLE;
      if (n === scratch.length) scratch = this.grow();
      scratch[n++] = value;
      i = skipWs(b, i, end);
      if (i >= end) return NOT_SIMPLE;
      const c = b[i];
      if (c === COMMA) {
        i = skipWs(b, i + 1, end);
        continue;
      }
      if (c === CLOSE_BRACKET) break;
      return NOT_SIMPLE;
    }
    out[key] = scratch.subarray(0, n);
    return i + 1;
  }

  private grow(): Uint32Array {
    const next = new Uint32Array(this.scratch.length * 2);
    next.set(this.scratch);
    this.scratch = next;
    return next;
  }

  /** End (past the closing quote) of a string of printable ASCII without escapes, or NOT_SIMPLE. */
  private plainString(i: number): number {
    const b = this.b;
    if (b[i] !== QUOTE) return NOT_SIMPLE;
    for (let j = i + 1; j < b.length; j++) {
      const c = b[j]!;
      if (c === QUOTE) return j + 1;
      // Escapes, control characters (invalid in JSON) and multi-byte UTF-8 go the exact way.
      if (c === BACKSLASH || c < WS_SPACE || c > 0x7e) return NOT_SIMPLE;
    }
    return NOT_SIMPLE;
  }

  /**
   * Skips an unknown field's value if it is a plain string, a literal or a small integer (every
   * parser agrees on those); floats, big numbers and nested values go the exact way.
   */
  private skipScalar(i: number): number {
    const b = this.b;
    if (b[i] === QUOTE) return this.plainString(i);
    if (isLiteral(b, i, 'null') || isLiteral(b, i, 'true')) return i + 4;
    if (isLiteral(b, i, 'false')) return i + 5;
    const start = b[i] === MINUS ? i + 1 : i;
    let end = start;
    while (isDigit(b[end])) end++;
    const digits = end - start;
    if (digits === 0 || digits > 15 || (digits > 1 && b[start] === DIGIT_0)) return NOT_SIMPLE;
    const next = b[end];
    if (next === DOT || next === LOWER_E || next === UPPER_E) return NOT_SIMPLE;
    return end;
  }

  private ws(i: number): number {
    const b = this.b;
    for (;;) {
      const c = b[i];
      if (c === WS_SPACE || c === WS_LF || c === WS_CR || c === WS_TAB) i++;
      else return i;
    }
  }
}

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c !== WS_SPACE && c !== WS_LF && c !== WS_CR && c !== WS_TAB) break;
    i++;
  }
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= DIGIT_0 && c <= DIGIT_9;
}

function isLiteral(b: Uint8Array, i: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** Text of bytes already checked to be printable ASCII. */
function asciiText(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
}
