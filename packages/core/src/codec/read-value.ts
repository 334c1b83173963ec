import { U32_MAX, U64_MAX } from '../u64.ts';
import { DecodeError, describe } from './decode-error.ts';

/** Readers for untrusted decoded values (from JSON or msgpack) that throw a DecodeError naming the field. */

export type Fields = Record<string, unknown>;

export function readObject(value: unknown, field: string): Fields {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new DecodeError(field, `expected a map, got ${describe(value)}`);
  }
  return value as Fields;
}

export function readArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new DecodeError(field, `expected an array, got ${describe(value)}`);
  return value;
}

/** A u64 that must be non-negative (ids, sequence numbers). */
export function readU64(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= U64_MAX) return value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  throw new DecodeError(field, `expected a u64, got ${describe(value)}`);
}

/** A 64-bit hash: u64, or i64 reinterpreted bitwise (engines may send either). */
export function readHash(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= -(1n << 63n) && value <= U64_MAX) return BigInt.asUintN(64, value);
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    return BigInt.asUintN(64, BigInt(value));
  }
  throw new DecodeError(field, `expected a 64-bit hash, got ${describe(value)}`);
}

export function readOptionalHash(value: unknown, field: string): bigint | null {
  return value === null || value === undefined ? null : readHash(value, field);
}

export function readU32(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= U32_MAX) return value;
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(U32_MAX)) return Number(value);
  throw new DecodeError(field, `expected a u32, got ${describe(value)}`);
}

export function readString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new DecodeError(field, `expected a string, got ${describe(value)}`);
  return value;
}
