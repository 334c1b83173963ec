/**
 * u64 values split into two 32-bit halves, the form the index stores them in: typed arrays hold
 * them without a BigInt or an object per block. The split goes through one shared 8-byte buffer,
 * which V8 does without allocating (BigInt shifts and masks allocate a BigInt per step).
 *
 * Inside the index the halves are int32 (Int32Array columns, `lowHalf`/`highHalf` results): a
 * u32 half of 2^31 or more is a boxed heap number in V8 wherever it crosses a call, which
 * allocated one object per block on the race. Columns handed in from outside (ColumnarBatch,
 * find queries) are Uint32Array; `x | 0` maps their values to the same int32 bits.
 */

const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);
const signedHalves = new Int32Array(wide.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

/** The low half as int32. */
export function lowHalf(value: bigint): number {
  wide[0] = value;
  return signedHalves[LO]!;
}

/** The high half as int32. */
export function highHalf(value: bigint): number {
  wide[0] = value;
  return signedHalves[HI]!;
}

/** Writes both halves of `value` into `lo[i]` and `hi[i]` (as u32 or int32, by the array's type). */
export function splitInto(
  value: bigint,
  lo: Uint32Array | Int32Array,
  hi: Uint32Array | Int32Array,
  i: number,
): void {
  wide[0] = value;
  lo[i] = halves[LO]!;
  hi[i] = halves[HI]!;
}

/** The u64 from its halves, given as u32 or int32. */
export function fromHalves(lo: number, hi: number): bigint {
  halves[LO] = lo;
  halves[HI] = hi;
  return wide[0]!;
}
