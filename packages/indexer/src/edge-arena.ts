/**
 * The edges of every node in two typed arrays: per edge position its slot id, and its tokens_hash
 * as interleaved u32 halves (lo, hi). A node owns the range [start, start + cap) and uses the
 * first `len` positions. Per-node JS arrays were most of what the index allocated (measured 68 %
 * of bytes on the race, V8 major GC ~18 % of apply time); here the edges cost the GC nothing and
 * the find walk reads one contiguous run of u32s.
 *
 * Positions are bump-allocated. A relocated or freed range becomes garbage; when the arrays are
 * full and at least half of what was handed out is garbage, live ranges are compacted in place of
 * growing (amortized O(1) per position, like a doubling array).
 */
export interface ArenaRange {
  start: number;
  len: number;
  cap: number;
}

export class EdgeArena {
  slots: Uint32Array;
  /** tokens_hash of each position: lo at 2·p, hi at 2·p + 1. */
  tokens: Uint32Array;
  private top = 0;
  private garbage = 0;
  compactions = 0;
  private readonly liveRanges: () => Iterable<ArenaRange | null>;

  /** `liveRanges` lists every range still owned (compaction moves them). */
  constructor(liveRanges: () => Iterable<ArenaRange | null>, initialPositions = 1 << 16) {
    this.liveRanges = liveRanges;
    this.slots = new Uint32Array(initialPositions);
    this.tokens = new Uint32Array(2 * initialPositions);
  }

  /** Positions handed out and not yet returned. */
  get live(): number {
    return this.top - this.garbage;
  }

  get byteSize(): number {
    return this.slots.byteLength + this.tokens.byteLength;
  }

  /**
   * Hands out `n` fresh positions and returns the first. May compact: a caller must re-read
   * `range.start` of every node (and the arrays themselves) after calling it.
   */
  reserve(n: number): number {
    if (this.top + n > this.slots.length) this.makeRoom(n);
    const start = this.top;
    this.top += n;
    return start;
  }

  /** Gives back a range no node owns any more. */
  release(cap: number): void {
    this.garbage += cap;
  }

  /**
   * Makes room for `extra` more positions at the end of `range` (moving it to the top if what
   * follows it is owned by another range). The caller then writes positions [len, len + extra).
   */
  extend(range: ArenaRange, extra: number): void {
    const needed = range.len + extra;
    if (needed <= range.cap) return;
    if (range.start + range.cap === this.top && this.top + (needed - range.cap) <= this.slots.length) {
      this.top += needed - range.cap;
      range.cap = needed;
      return;
    }
    // Some slack: a leaf that grew once (a conversation's next turn) tends to grow again.
    const cap = needed + (needed >>> 1);
    const start = this.reserve(cap);
    // reserve may have compacted and moved this range: read it afterwards.
    this.slots.copyWithin(start, range.start, range.start + range.len);
    this.tokens.copyWithin(2 * start, 2 * range.start, 2 * (range.start + range.len));
    this.garbage += range.cap;
    range.start = start;
    range.cap = cap;
  }

  private makeRoom(n: number): void {
    const live = this.top - this.garbage;
    if (this.garbage * 2 >= this.top) {
      this.compact(Math.max(this.slots.length, Math.ceil((live + n) * 1.5)));
      if (this.top + n <= this.slots.length) return;
    }
    const size = Math.max(Math.ceil(this.slots.length * 1.5), this.top + n);
    const slots = new Uint32Array(size);
    slots.set(this.slots.subarray(0, this.top));
    const tokens = new Uint32Array(2 * size);
    tokens.set(this.tokens.subarray(0, 2 * this.top));
    this.slots = slots;
    this.tokens = tokens;
  }

  /** Copies every live range, trimmed to its length, into fresh arrays of `size` positions. */
  private compact(size: number): void {
    const slots = new Uint32Array(size);
    const tokens = new Uint32Array(2 * size);
    let top = 0;
    for (const range of this.liveRanges()) {
      if (range === null || range.cap === 0) continue;
      slots.set(this.slots.subarray(range.start, range.start + range.len), top);
      tokens.set(this.tokens.subarray(2 * range.start, 2 * (range.start + range.len)), 2 * top);
      range.start = top;
      range.cap = range.len;
      top += range.len;
    }
    this.slots = slots;
    this.tokens = tokens;
    this.top = top;
    this.garbage = 0;
    this.compactions++;
  }
}
