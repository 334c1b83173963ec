export interface RingEntry {
  seq: bigint;
  payload: Buffer;
}

/** The last `capacity` batches by seq, for answering replays; seqs are contiguous. */
export class BatchRing {
  readonly capacity: number;
  private readonly entries: (RingEntry | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring capacity must be >= 1');
    this.capacity = capacity;
    this.entries = new Array(capacity);
  }

  push(seq: bigint, payload: Buffer): void {
    const newest = this.count > 0 ? this.entries[(this.head + this.count - 1) % this.capacity]!.seq : null;
    if (newest !== null && seq !== newest + 1n) {
      // A seq jump means a new stream: what is buffered belongs to the old one.
      this.count = 0;
      this.head = 0;
    }
    if (this.count < this.capacity) {
      this.entries[(this.head + this.count) % this.capacity] = { seq, payload };
      this.count++;
    } else {
      this.entries[this.head] = { seq, payload };
      this.head = (this.head + 1) % this.capacity;
    }
  }

  get size(): number {
    return this.count;
  }

  /** Buffered batches with seq >= start, oldest first. */
  *from(start: bigint): Generator<RingEntry> {
    if (this.count === 0) return;
    const oldest = this.entries[this.head]!.seq;
    const skip = start <= oldest ? 0 : Number(start - oldest);
    for (let i = skip; i < this.count; i++) yield this.entries[(this.head + i) % this.capacity]!;
  }
}
