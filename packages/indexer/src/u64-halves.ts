/**
 * u64 values split into two u32 halves, the form the index stores them in: typed arrays hold
 * them without a BigInt or an object per block. The split goes through one shared 8-byte buffer,
 * which V8 does without allocating (BigInt shifts and masks allocate a BigInt per step).
 */

const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

export function lowHalf(value: bigint): number {
  wide[0] = value;
  return halves[LO]!;
}

export function highHalf(value: bigint): number {
  wide[0] = value;
  return halves[HI]!;
}

/** Writes both halves of `value` into `lo[i]` and `hi[i]`. */
export function splitInto(value: bigint, lo: Uint32Array, hi: Uint32Array, i: number): void {
  wide[0] = value;
  lo[i] = halves[LO]!;
  hi[i] = halves[HI]!;
}

export function fromHalves(lo: number, hi: number): bigint {
  halves[LO] = lo;
  halves[HI] = hi;
  return wide[0]!;
}
