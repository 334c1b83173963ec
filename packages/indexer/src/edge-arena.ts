/**
 * The edges of every node in typed arrays: per edge position its slot id, and its tokens_hash as
 * interleaved u32 halves (lo, hi). A node owns [start, start + cap) of one chunk and uses the
 * first `len` positions. Per-node JS arrays were most of what the index allocated (68 % of bytes
 * on the race, V8 major GC ~18 % of apply time); here edges cost the GC nothing and the find walk
 * reads one contiguous run of u32s.
 *
 * Positions are bump-allocated in fixed-size chunks that are never copied or reallocated (growing
 * one big array copied it and faulted in fresh pages every time: ~15 % of the race's apply). A
 * relocated or freed range becomes garbage in its chunk; when a new chunk is opened, an old chunk
 * that is at least half garbage is evacuated into it and reused.
 */
export interface ArenaRange {
  chunk: number;
  start: number;
  len: number;
  cap: number;
}

/** Positions per chunk (1 MiB of slot ids + 2 MiB of tokens). */
const CHUNK_POSITIONS = 1 << 18;

export class EdgeArena {
  /** Per chunk, slot ids by position. */
  readonly slots: Int32Array[] = [];
  /** Per chunk, tokens_hash of each position: lo at 2·p, hi at 2·p + 1. */
  readonly tokens: Int32Array[] = [];
  /** Per chunk, positions handed out (bump pointer) and how many of them are garbage. */
  private readonly tops: number[] = [];
  private readonly garbage: number[] = [];
  /** Chunks emptied by evacuation, ready for reuse. */
  private readonly spare: number[] = [];
  private current = -1;
  private readonly chunkPositions: number;
  evacuations = 0;
  private readonly liveRanges: () => Iterable<ArenaRange | null>;

  /** `liveRanges` lists every range still owned (evacuation moves them). */
  constructor(liveRanges: () => Iterable<ArenaRange | null>, chunkPositions = CHUNK_POSITIONS) {
    this.liveRanges = liveRanges;
    this.chunkPositions = chunkPositions;
  }

  get byteSize(): number {
    let bytes = 0;
    for (const s of this.slots) bytes += s.byteLength * 3;
    return bytes;
  }

  /**
   * Points `range` at `n` fresh positions (cap n). May evacuate a chunk: a caller must re-read
   * `start`/`chunk` of every other node after calling it.
   */
  place(range: ArenaRange, n: number): void {
    if (this.current < 0 || this.tops[this.current]! + n > this.slots[this.current]!.length)
      this.openChunk(n);
    const chunk = this.current;
    range.chunk = chunk;
    range.start = this.tops[chunk]!;
    range.cap = n;
    this.tops[chunk]! += n;
  }

  /** Gives back a range no node owns any more. */
  release(range: ArenaRange): void {
    this.garbage[range.chunk]! += range.cap;
  }

  /**
   * Makes room for `extra` more positions at the end of `range`, moving it if what follows it is
   * taken. The caller then writes positions [len, len + extra).
   */
  extend(range: ArenaRange, extra: number): void {
    const needed = range.len + extra;
    if (needed <= range.cap) return;
    const chunk = range.chunk;
    if (range.start + range.cap === this.tops[chunk] && range.start + needed <= this.slots[chunk]!.length) {
      this.tops[chunk]! += needed - range.cap;
      range.cap = needed;
      return;
    }
    // Some slack: a leaf that grew once (a conversation's next turn) tends to grow again.
    const moved: ArenaRange = { chunk: 0, start: 0, len: range.len, cap: 0 };
    this.place(moved, needed + (needed >>> 1));
    // place may have evacuated range's chunk: read range only now.
    this.slots[moved.chunk]!.set(
      this.slots[range.chunk]!.subarray(range.start, range.start + range.len),
      moved.start,
    );
    this.tokens[moved.chunk]!.set(
      this.tokens[range.chunk]!.subarray(2 * range.start, 2 * (range.start + range.len)),
      2 * moved.start,
    );
    this.release(range);
    range.chunk = moved.chunk;
    range.start = moved.start;
    range.cap = moved.cap;
  }

  private openChunk(atLeast: number): void {
    const size = Math.max(this.chunkPositions, atLeast);
    const reused = size === this.chunkPositions ? this.spare.pop() : undefined;
    if (reused !== undefined) {
      this.current = reused;
    } else {
      this.current = this.slots.length;
      this.slots.push(new Int32Array(size));
      this.tokens.push(new Int32Array(2 * size));
      this.tops.push(0);
      this.garbage.push(0);
    }
    this.tops[this.current] = 0;
    this.garbage[this.current] = 0;
    const victim = this.mostlyGarbage(atLeast);
    if (victim >= 0) this.evacuate(victim);
  }

  /**
   * An old chunk at least half garbage whose live positions fit in the current chunk next to the
   * `reserved` positions about to be placed, or -1.
   */
  private mostlyGarbage(reserved: number): number {
    const room = this.slots[this.current]!.length - this.tops[this.current]! - reserved;
    let best = -1;
    for (let c = 0; c < this.slots.length; c++) {
      if (c === this.current || this.tops[c] === 0 || this.spare.includes(c)) continue;
      const garbage = this.garbage[c]!;
      if (garbage * 2 < this.tops[c]! || this.tops[c]! - garbage > room) continue;
      if (best < 0 || garbage > this.garbage[best]!) best = c;
    }
    return best;
  }

  /** Moves every live range of `chunk` into the current chunk, trimmed to its length. */
  private evacuate(chunk: number): void {
    const to = this.current;
    const fromSlots = this.slots[chunk]!;
    const fromTokens = this.tokens[chunk]!;
    for (const range of this.liveRanges()) {
      if (range === null || range.chunk !== chunk || range.cap === 0) continue;
      const start = this.tops[to]!;
      this.slots[to]!.set(fromSlots.subarray(range.start, range.start + range.len), start);
      this.tokens[to]!.set(fromTokens.subarray(2 * range.start, 2 * (range.start + range.len)), 2 * start);
      this.tops[to]! += range.len;
      range.chunk = to;
      range.start = start;
      range.cap = range.len;
    }
    this.tops[chunk] = 0;
    this.garbage[chunk] = 0;
    // Oversized chunks are dropped rather than kept for reuse.
    if (fromSlots.length === this.chunkPositions) this.spare.push(chunk);
    else {
      this.slots[chunk] = new Int32Array(0);
      this.tokens[chunk] = new Int32Array(0);
    }
    this.evacuations++;
  }
}
