const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The u32 halves of each u64 as a view without copying: [lo, hi] per value on little-endian hosts. */
export function u64Words(values: BigUint64Array): Uint32Array {
  if (!LITTLE_ENDIAN) throw new Error('the simulator assumes a little-endian host');
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}

/**
 * An open-addressing hash table from a u64 key, given as its two u32 halves, to a non-negative
 * slot number. Typed-array columns instead of a Map<bigint, number>: a pool lookup then allocates
 * nothing and touches one cache line, which is most of the simulator's time over a 64-engine fleet.
 * Linear probing with backward-shift deletion, so no tombstones accumulate under constant churn.
 */
export class U64SlotTable {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  /** slot + 1; 0 marks an empty bucket. */
  private readonly value: Int32Array;
  private readonly mask: number;
  private count = 0;

  /** Sized for at most `maxEntries` keys at a load factor ≤ 0.5. */
  constructor(maxEntries: number) {
    let buckets = 16;
    while (buckets < maxEntries * 2) buckets *= 2;
    this.lo = new Uint32Array(buckets);
    this.hi = new Uint32Array(buckets);
    this.value = new Int32Array(buckets);
    this.mask = buckets - 1;
  }

  get size(): number {
    return this.count;
  }

  private home(lo: number, hi: number): number {
    return (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
  }

  /** The key's slot, or -1. */
  get(lo: number, hi: number): number {
    const mask = this.mask;
    for (let i = this.home(lo, hi); ; i = (i + 1) & mask) {
      const v = this.value[i]!;
      if (v === 0) return -1;
      if (this.lo[i] === lo && this.hi[i] === hi) return v - 1;
    }
  }

  /** Adds a key that is not present. */
  insert(lo: number, hi: number, slot: number): void {
    const mask = this.mask;
    let i = this.home(lo, hi);
    while (this.value[i] !== 0) i = (i + 1) & mask;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.value[i] = slot + 1;
    this.count++;
  }

  /** Removes a key; returns whether it was present. */
  delete(lo: number, hi: number): boolean {
    const mask = this.mask;
    let i = this.home(lo, hi);
    for (; ; i = (i + 1) & mask) {
      if (this.value[i] === 0) return false;
      if (this.lo[i] === lo && this.hi[i] === hi) break;
    }
    // Backward shift: pull later entries of the probe run into the hole when their home allows it.
    let hole = i;
    for (let j = (hole + 1) & mask; this.value[j] !== 0; j = (j + 1) & mask) {
      const h = this.home(this.lo[j]!, this.hi[j]!);
      const distHole = (hole - h) & mask;
      const distJ = (j - h) & mask;
      if (distHole <= distJ) {
        this.lo[hole] = this.lo[j]!;
        this.hi[hole] = this.hi[j]!;
        this.value[hole] = this.value[j]!;
        hole = j;
      }
    }
    this.value[hole] = 0;
    this.count--;
    return true;
  }
}
