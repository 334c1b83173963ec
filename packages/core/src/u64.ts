/** Unsigned 64-bit values (hashes, worker ids) are always BigInt: a JS number loses bits above 2^53. */
export type U64 = bigint;

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const I64_MIN = -0x8000_0000_0000_0000n;
export const U32_MAX = 0xffff_ffff;

export function isU64(value: bigint): boolean {
  return value >= 0n && value <= U64_MAX;
}

/** Reinterprets a signed 64-bit integer's bits as unsigned (Dynamo and vLLM may send i64). */
export function i64ToU64(value: bigint): bigint {
  return BigInt.asUintN(64, value);
}

/** Reinterprets an unsigned 64-bit value as signed two's complement (Dynamo's /query_by_hash form). */
export function u64ToI64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

/** Wrapping u64 addition, as Rust's `wrapping_add`. */
export function wrappingAddU64(a: bigint, b: bigint): bigint {
  return BigInt.asUintN(64, a + b);
}
