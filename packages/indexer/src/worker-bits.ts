/**
 * A set of worker (rank) indices as a bitset of 32-bit words: a node's full-coverage workers.
 * Membership is one word test, and find intersects whole words instead of testing each active
 * worker against a Set. The first 64 ranks live in two int32 fields of the object itself, so the
 * find walk reads them without following a pointer to an array (a dependent cache miss per node
 * on a cold tree); ranks past 64 spill into `rest`.
 */
export class WorkerBits {
  w0 = 0;
  w1 = 0;
  /** Words 2.. (ranks 64 and up), or null while no such rank is a member. */
  rest: Int32Array | null = null;
  size = 0;

  static of(worker: number): WorkerBits {
    const bits = new WorkerBits();
    bits.add(worker);
    return bits;
  }

  /** Words in use: 2 unless `rest` holds more. */
  get wordCount(): number {
    return this.rest === null ? 2 : 2 + this.rest.length;
  }

  word(i: number): number {
    if (i === 0) return this.w0;
    if (i === 1) return this.w1;
    const rest = this.rest;
    return rest !== null && i - 2 < rest.length ? rest[i - 2]! : 0;
  }

  private setWord(i: number, value: number): void {
    if (i === 0) this.w0 = value;
    else if (i === 1) this.w1 = value;
    else {
      let rest = this.rest;
      if (rest === null || i - 2 >= rest.length) {
        const grown = new Int32Array(Math.max(i - 1, rest === null ? 2 : rest.length * 2));
        if (rest !== null) grown.set(rest);
        rest = grown;
        this.rest = rest;
      }
      rest[i - 2] = value;
    }
  }

  has(worker: number): boolean {
    return (this.word(worker >>> 5) & (1 << (worker & 31))) !== 0;
  }

  add(worker: number): void {
    const i = worker >>> 5;
    const w = this.word(i);
    const bit = 1 << (worker & 31);
    if ((w & bit) === 0) {
      this.setWord(i, w | bit);
      this.size++;
    }
  }

  delete(worker: number): void {
    const i = worker >>> 5;
    const w = this.word(i);
    const bit = 1 << (worker & 31);
    if ((w & bit) !== 0) {
      this.setWord(i, w & ~bit);
      this.size--;
    }
  }

  forEach(visit: (worker: number) => void): void {
    const n = this.wordCount;
    for (let i = 0; i < n; i++) {
      let w = this.word(i);
      while (w !== 0) {
        const low = w & -w;
        visit((i << 5) | (31 - Math.clz32(low)));
        w ^= low;
      }
    }
  }

  toArray(): number[] {
    const out: number[] = [];
    this.forEach((w) => {
      out.push(w);
    });
    return out;
  }

  clone(): WorkerBits {
    const copy = new WorkerBits();
    copy.w0 = this.w0;
    copy.w1 = this.w1;
    copy.rest = this.rest === null ? null : this.rest.slice();
    copy.size = this.size;
    return copy;
  }

  equals(other: WorkerBits): boolean {
    if (this.size !== other.size) return false;
    const n = Math.max(this.wordCount, other.wordCount);
    for (let i = 0; i < n; i++) if (this.word(i) !== other.word(i)) return false;
    return true;
  }
}

export function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
