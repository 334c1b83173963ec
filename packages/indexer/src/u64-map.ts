/**
 * An open-addressing hash map from a u64 key (two halves, given as int32: see u64-halves.ts) to a
 * non-negative int32 value, with linear probing at load ≤ 1/2 and backward-shift deletion (no
 * tombstones, so churn never degrades probes). This is the per-(worker, dp_rank) lookup of engine
 * block hashes: each bucket is three adjacent int32 words (key low, key high, value + 1; 0 marks
 * empty), so a probe touches one cache line instead of one per column, and there is no BigInt or
 * Map entry per block.
 */
export class U64Map {
  private table: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 8) {
    let capacity = 8;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.table = freshTable(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value under the key, or -1. */
  get(lo: number, hi: number): number {
    const { table, mask } = this;
    let i = bucketOf(lo, hi) & mask;
    for (;;) {
      const at = i * 3;
      const v = table[at + 2]!;
      if (v === 0) return -1;
      if (table[at] === lo && table[at + 1] === hi) return v - 1;
      i = (i + 1) & mask;
    }
  }

  /**
   * Reads the home bucket of each key in [from, to) without acting on it. Independent loads
   * overlap their cache misses; the inserts that follow then find their buckets in cache.
   */
  touch(lo: Int32Array, hi: Int32Array, from: number, to: number): number {
    const { table, mask } = this;
    let sink = 0;
    for (let k = from; k < to; k++) sink ^= table[(bucketOf(lo[k]!, hi[k]!) & mask) * 3 + 2]!;
    return sink;
  }

  /** Sets the value and returns the previous one, or -1. */
  set(lo: number, hi: number, value: number): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const { table, mask } = this;
    let i = bucketOf(lo, hi) & mask;
    for (;;) {
      const at = i * 3;
      const v = table[at + 2]!;
      if (v === 0) {
        table[at] = lo;
        table[at + 1] = hi;
        table[at + 2] = value + 1;
        this.count++;
        return -1;
      }
      if (table[at] === lo && table[at + 1] === hi) {
        table[at + 2] = value + 1;
        return v - 1;
      }
      i = (i + 1) & mask;
    }
  }

  /** Deletes the key and returns its value, or -1 when absent. */
  delete(lo: number, hi: number): number {
    const { table, mask } = this;
    let i = bucketOf(lo, hi) & mask;
    for (;;) {
      const at = i * 3;
      const v = table[at + 2]!;
      if (v === 0) return -1;
      if (table[at] === lo && table[at + 1] === hi) break;
      i = (i + 1) & mask;
    }
    const removed = table[i * 3 + 2]! - 1;
    // Backward-shift: pull later entries of the probe run into the hole when their home allows.
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const at = j * 3;
      const v = table[at + 2]!;
      if (v === 0) break;
      const home = bucketOf(table[at]!, table[at + 1]!) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        const to = hole * 3;
        table[to] = table[at]!;
        table[to + 1] = table[at + 1]!;
        table[to + 2] = v;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    table[hole * 3 + 2] = 0;
    this.count--;
    return removed;
  }

  forEach(visit: (lo: number, hi: number, value: number) => void): void {
    const table = this.table;
    for (let at = 0; at < table.length; at += 3) {
      const v = table[at + 2]!;
      if (v !== 0) visit(table[at]!, table[at + 1]!, v - 1);
    }
  }

  clear(): void {
    this.table.fill(0);
    this.count = 0;
  }

  /** Approximate heap bytes held. */
  get byteSize(): number {
    return this.table.byteLength;
  }

  private grow(): void {
    const old = this.table;
    const capacity = (this.mask + 1) * 2;
    this.table = freshTable(capacity);
    this.mask = capacity - 1;
    const table = this.table;
    const mask = this.mask;
    // Keys are distinct, so each goes to the first empty bucket from its home: no key compares,
    // no capacity checks. Walking the old table in order writes the new one in two near-sequential
    // streams (home h & oldMask lands at that index or one old capacity above it).
    for (let at = 0; at < old.length; at += 3) {
      const v = old[at + 2]!;
      if (v === 0) continue;
      const lo = old[at]!;
      const hi = old[at + 1]!;
      let i = bucketOf(lo, hi) & mask;
      while (table[i * 3 + 2] !== 0) i = (i + 1) & mask;
      table[i * 3] = lo;
      table[i * 3 + 1] = hi;
      table[i * 3 + 2] = v;
    }
  }
}

/**
 * A zeroed table of `capacity` buckets with every page already written. A fresh allocation maps
 * zero pages lazily, and a probe reads a bucket before writing it: two page faults per page
 * (the read maps the shared zero page, the write copies it). Writing the zeros once, in order,
 * makes it one; measured 30-40 % faster inserting into fresh tables.
 */
function freshTable(capacity: number): Int32Array {
  const table = new Int32Array(capacity * 3);
  table.fill(0);
  return table;
}

/** A 32-bit mix of both halves; engine hashes are already uniform, this only spreads sequential ids. */
export function bucketOf(lo: number, hi: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
