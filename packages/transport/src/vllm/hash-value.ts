import { DecodeError, describe } from '@kvindex/core';

/**
 * A block hash as engines send it: u64, i64 (reinterpreted bitwise), or bytes (vLLM's sha256
 * modes), of which the low 64 bits — the last 8 bytes, big-endian — are the hash. Dynamo 1.6.1
 * rejects bytes and drops the whole batch.
 */
export function readWireHash(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= -(1n << 63n) && value <= 0xffff_ffff_ffff_ffffn) return BigInt.asUintN(64, value);
  } else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  } else if (value instanceof Uint8Array && value.length > 0) {
    return lowBytesBigEndian(value);
  }
  throw new DecodeError(field, `expected a 64-bit hash (int or bytes), got ${describe(value)}`);
}

function lowBytesBigEndian(bytes: Uint8Array): bigint {
  if (bytes.length >= 8) {
    return new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8).getBigUint64(0, false);
  }
  let out = 0n;
  for (const b of bytes) out = (out << 8n) | BigInt(b);
  return out;
}

export function readWireHashes(value: unknown, field: string): bigint[] {
  // In-process callers (engine outputs) hand typed arrays; the wire gives plain arrays.
  if (value instanceof BigUint64Array) return Array.from(value);
  if (!Array.isArray(value))
    throw new DecodeError(field, `expected an array of hashes, got ${describe(value)}`);
  const out = new Array<bigint>(value.length);
  for (let i = 0; i < value.length; i++) out[i] = readWireHash(value[i], `${field}[${i}]`);
  return out;
}
