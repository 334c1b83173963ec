/**
 * One engine's KV block pool as vLLM's prefix cache keeps it: C fixed slots, a lookup from a
 * block's sequence hash to its slot, and a free queue in least-recently-used order. Blocks in use
 * by the running request are out of the queue, so they are never evicted; freed blocks are
 * appended in reverse (a request's last block first), which makes eviction take leaves before
 * their parents, as vLLM's FreeKVCacheBlockQueue does.
 */
import { U64SlotTable, u64Words } from './u64-slot-table.ts';

const one = new BigUint64Array(1);
const oneWords = u64Words(one);

export class LruBlockPool {
  readonly capacity: number;
  private readonly slotBySeqHash: U64SlotTable;
  private readonly seqHash: BigUint64Array;
  private readonly seqWords: Uint32Array;
  private readonly engineHash: BigUint64Array;
  private readonly cached: Uint8Array;
  private readonly queued: Uint8Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1;
  private tail = -1;
  private queuedCount = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > 2 ** 31 - 1) {
      throw new RangeError(`pool capacity must be an integer in [1, 2^31-1], got ${capacity}`);
    }
    this.capacity = capacity;
    this.slotBySeqHash = new U64SlotTable(capacity);
    this.seqHash = new BigUint64Array(capacity);
    this.seqWords = u64Words(this.seqHash);
    this.engineHash = new BigUint64Array(capacity);
    this.cached = new Uint8Array(capacity);
    this.queued = new Uint8Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    for (let slot = 0; slot < capacity; slot++) this.append(slot);
  }

  /** Blocks currently cached (holding a hash), in use or free. */
  get cachedCount(): number {
    return this.slotBySeqHash.size;
  }

  /** Slots in the free queue (evictable or empty). */
  get freeCount(): number {
    return this.queuedCount;
  }

  /** The slot caching this sequence hash, or -1. */
  slotOf(seqHash: bigint): number {
    one[0] = seqHash;
    return this.slotBySeqHash.get(oneWords[0]!, oneWords[1]!);
  }

  /** The slot caching the sequence hash given as u32 halves, or -1. */
  slotOfWords(lo: number, hi: number): number {
    return this.slotBySeqHash.get(lo, hi);
  }

  has(seqHash: bigint): boolean {
    return this.slotOf(seqHash) >= 0;
  }

  /** How many leading blocks of the sequence are cached; `words` is `u64Words(sequence hashes)`. */
  matchPrefix(words: Uint32Array, limit = words.length >>> 1): number {
    let n = 0;
    while (n < limit && this.slotBySeqHash.get(words[2 * n]!, words[2 * n + 1]!) >= 0) n++;
    return n;
  }

  engineHashOf(slot: number): bigint {
    return this.engineHash[slot]!;
  }

  isCached(slot: number): boolean {
    return this.cached[slot] === 1;
  }

  isFree(slot: number): boolean {
    return this.queued[slot] === 1;
  }

  /** Takes a slot out of the free queue for the running request (a prefix-cache hit). */
  acquire(slot: number): void {
    if (this.queued[slot] === 1) this.unlink(slot);
  }

  /** Pops the least recently used free slot for the running request; -1 when every slot is in use. */
  popLeastRecent(): number {
    const slot = this.head;
    if (slot >= 0) this.unlink(slot);
    return slot;
  }

  /** Forgets the block a slot holds (an eviction); returns its engine hash. */
  uncache(slot: number): bigint {
    if (this.cached[slot] !== 1) throw new Error(`slot ${slot} holds no block`);
    this.slotBySeqHash.delete(this.seqWords[2 * slot]!, this.seqWords[2 * slot + 1]!);
    this.cached[slot] = 0;
    return this.engineHash[slot]!;
  }

  /** Records that an in-use slot now holds a full block. */
  cache(slot: number, seqHash: bigint, engineHash: bigint): void {
    if (this.queued[slot] === 1 || this.cached[slot] === 1)
      throw new Error(`slot ${slot} is not an empty in-use slot`);
    this.seqHash[slot] = seqHash;
    const lo = this.seqWords[2 * slot]!;
    const hi = this.seqWords[2 * slot + 1]!;
    if (this.slotBySeqHash.get(lo, hi) >= 0) {
      // A block's parent is always newer in the queue than the block, so the cache is prefix-closed
      // and a sequence hash past the matched prefix cannot be cached already.
      throw new Error(`simulator invariant broken: sequence hash ${seqHash} cached twice`);
    }
    this.slotBySeqHash.insert(lo, hi, slot);
    this.engineHash[slot] = engineHash;
    this.cached[slot] = 1;
  }

  /** Returns a request's slots (in sequence order) to the free queue, last block first. */
  release(slots: ArrayLike<number>): void {
    for (let i = slots.length - 1; i >= 0; i--) {
      const slot = slots[i]!;
      if (this.queued[slot] !== 1) this.append(slot);
    }
  }

  /** Cached blocks as [sequence hash, engine hash], least recently used first (free ones), then in-use ones. */
  *blocks(): IterableIterator<[bigint, bigint]> {
    for (let slot = this.head; slot >= 0; slot = this.next[slot]!) {
      if (this.cached[slot] === 1) yield [this.seqHash[slot]!, this.engineHash[slot]!];
    }
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.cached[slot] === 1 && this.queued[slot] !== 1)
        yield [this.seqHash[slot]!, this.engineHash[slot]!];
    }
  }

  private append(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = -1;
    if (this.tail >= 0) this.next[this.tail] = slot;
    else this.head = slot;
    this.tail = slot;
    this.queued[slot] = 1;
    this.queuedCount++;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.queued[slot] = 0;
    this.queuedCount--;
  }
}
