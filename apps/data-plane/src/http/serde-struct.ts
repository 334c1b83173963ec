import type { JsonValue } from '@kvindex/core';
import {
  elementRange,
  firstFloatElement,
  isFloatLiteral,
  type Range,
  skipWs,
  topLevelLayout,
} from './json-layout.ts';
import { lineColumn } from './serde-syntax.ts';

/**
 * Request bodies decoded the way Dynamo's `#[derive(Deserialize)]` structs are: fields checked in
 * document order (the first bad one is reported), unknown fields ignored, then the first missing
 * required field in declaration order. Messages are serde's, positioned as serde_json positions
 * them, so a 422 body is what Dynamo would send.
 */

export type ScalarKind = 'u64' | 'u32' | 'i64' | 'string';

export interface FieldSpec {
  name: string;
  kind: ScalarKind | 'u32[]' | 'i64[]' | 'any';
  /** Rust `Option<T>`: null and absence both mean None. */
  optional?: boolean;
  /** `#[serde(default)]`: absence is fine, null is still a type error. */
  defaulted?: boolean;
}

export interface StructSpec {
  name: string;
  fields: readonly FieldSpec[];
}

type Anchor = 'after' | 'start';

export class BodyDataError extends Error {
  readonly path: string;
  readonly detail: string;
  readonly anchor: Anchor | 'end';
  readonly key: string | undefined;
  readonly index: number | undefined;
  constructor(detail: string, anchor: Anchor | 'end', key?: string, index?: number) {
    const path = key === undefined ? '' : index === undefined ? key : `${key}[${index}]`;
    super(path ? `${path}: ${detail}` : detail);
    this.path = path;
    this.detail = detail;
    this.anchor = anchor;
    this.key = key;
    this.index = index;
  }
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const EXPECTED: Record<ScalarKind | 'seq', string> = {
  u64: 'u64',
  u32: 'u32',
  i64: 'i64',
  string: 'a string',
  seq: 'a sequence',
};

function floatText(v: number | bigint): string {
  const n = Number(v);
  const s = Number.isInteger(n) && Math.abs(n) < 1e21 ? BigInt(n).toString() : String(n);
  return /[.eE]|N|I/.test(s) ? s : `${s}.0`;
}

/** serde's `Unexpected` display of a JSON value. */
function unexpected(v: JsonValue, isFloat: boolean): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `boolean \`${v}\``;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (Array.isArray(v)) return 'sequence';
  if (typeof v === 'object') return 'map';
  if (isFloat || !isIntegral(v)) return `floating point \`${floatText(v)}\``;
  return `integer \`${BigInt(v)}\``;
}

function isIntegral(v: number | bigint): boolean {
  if (typeof v === 'bigint') return v >= I64_MIN && v <= U64_MAX;
  return Number.isInteger(v);
}

function anchorOf(v: JsonValue): Anchor {
  return v !== null && typeof v === 'object' ? 'start' : 'after';
}

function invalidType(v: JsonValue, expected: string, isFloat: boolean, key: string, index?: number) {
  const noun = v === null ? 'null' : unexpected(v, isFloat);
  return new BodyDataError(`invalid type: ${noun}, expected ${expected}`, anchorOf(v), key, index);
}

/** Reads one integer/string scalar, or throws serde's error for it. */
function readScalar(
  v: JsonValue,
  kind: ScalarKind,
  isFloat: boolean,
  key: string,
  index?: number,
): bigint | number | string {
  if (kind === 'string') {
    if (typeof v === 'string') return v;
    throw invalidType(v, EXPECTED.string, isFloat, key, index);
  }
  if ((typeof v !== 'number' && typeof v !== 'bigint') || isFloat || !isIntegral(v)) {
    throw invalidType(v, EXPECTED[kind], isFloat, key, index);
  }
  const n = BigInt(v);
  const [min, max] =
    kind === 'u64' ? [0n, U64_MAX] : kind === 'u32' ? [0n, 0xffff_ffffn] : [I64_MIN, I64_MAX];
  if (n < min || n > max) {
    throw new BodyDataError(`invalid value: integer \`${n}\`, expected ${kind}`, 'after', key, index);
  }
  return kind === 'u32' ? Number(n) : n;
}

function readSequence(
  v: JsonValue,
  kind: 'u32' | 'i64',
  key: string,
  bytes: Uint8Array,
  range: Range | undefined,
): Uint32Array | bigint[] {
  if (!Array.isArray(v)) throw invalidType(v, EXPECTED.seq, false, key);
  const floatAt = range ? firstFloatElement(bytes, range) : -1;
  if (kind === 'u32') {
    const out = new Uint32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const e = v[i]!;
      // The hot path: a plain non-negative integer below 2^32.
      if (typeof e === 'number' && e >= 0 && e <= 0xffff_ffff && Number.isInteger(e) && i !== floatAt) {
        out[i] = e;
        continue;
      }
      out[i] = readScalar(e, 'u32', i === floatAt, key, i) as number;
    }
    return out;
  }
  const out: bigint[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = readScalar(v[i]!, 'i64', i === floatAt, key, i) as bigint;
  return out;
}

/**
 * Decodes `value` (already parsed exactly from `bytes`) into a plain record of the spec's fields.
 * Missing defaulted/optional fields are left undefined.
 */
export function decodeStruct(
  spec: StructSpec,
  value: JsonValue,
  bytes: Uint8Array,
  mayHaveFloats = true,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const noun = unexpected(value, false);
    throw new BodyDataError(`invalid type: ${noun}, expected struct ${spec.name}`, anchorOf(value));
  }
  // Byte ranges are only needed to tell `1.0` from `1`; most bodies have no float literal at all.
  const layout = mayHaveFloats ? topLevelLayout(bytes) : undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = spec.fields.find((f) => f.name === key);
    if (!field) continue;
    const v = value[key]!;
    if (field.optional && v === null) continue;
    const range = layout?.fields.get(key);
    switch (field.kind) {
      case 'any':
        out[key] = v;
        break;
      case 'u32[]':
        out[key] = readSequence(v, 'u32', key, bytes, range);
        break;
      case 'i64[]':
        out[key] = readSequence(v, 'i64', key, bytes, range);
        break;
      default: {
        const isFloat = typeof v === 'number' && range !== undefined && isFloatLiteral(bytes, range);
        out[key] = readScalar(v, field.kind, isFloat, key);
      }
    }
  }
  for (const field of spec.fields) {
    if (!field.optional && !field.defaulted && out[field.name] === undefined) {
      throw new BodyDataError(`missing field \`${field.name}\``, 'end');
    }
  }
  return out;
}

/** serde_json's "... at line L column C" for a data error in `bytes`. */
export function positionOf(err: BodyDataError, bytes: Uint8Array): { line: number; column: number } {
  const layout = topLevelLayout(bytes);
  if (err.key === undefined) {
    return lineColumn(bytes, err.anchor === 'start' ? skipWs(bytes, 0) : layout.end);
  }
  let range = layout.fields.get(err.key);
  if (range && err.index !== undefined) range = elementRange(bytes, range, err.index);
  if (!range) return lineColumn(bytes, bytes.length);
  return lineColumn(bytes, err.anchor === 'start' ? skipWs(bytes, range.start) : range.end);
}
