/**
 * A set of worker (rank) indices as a bitset of 32-bit words: a node's full-coverage workers.
 * Membership is one word test, and find intersects whole words instead of testing each active
 * worker against a Set.
 */
export class WorkerBits {
  words: number[];
  size = 0;

  constructor(words: number[] = []) {
    this.words = words;
    for (const w of words) this.size += popcount(w);
  }

  static of(worker: number): WorkerBits {
    const bits = new WorkerBits();
    bits.add(worker);
    return bits;
  }

  has(worker: number): boolean {
    const w = this.words[worker >>> 5];
    return w !== undefined && (w & (1 << (worker & 31))) !== 0;
  }

  add(worker: number): void {
    const i = worker >>> 5;
    while (this.words.length <= i) this.words.push(0);
    const bit = 1 << (worker & 31);
    if ((this.words[i]! & bit) === 0) {
      this.words[i]! |= bit;
      this.size++;
    }
  }

  delete(worker: number): void {
    const i = worker >>> 5;
    const w = this.words[i];
    const bit = 1 << (worker & 31);
    if (w !== undefined && (w & bit) !== 0) {
      this.words[i] = w & ~bit;
      this.size--;
    }
  }

  forEach(visit: (worker: number) => void): void {
    const words = this.words;
    for (let i = 0; i < words.length; i++) {
      let w = words[i]!;
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
    copy.words = this.words.slice();
    copy.size = this.size;
    return copy;
  }

  equals(other: WorkerBits): boolean {
    if (this.size !== other.size) return false;
    const n = Math.max(this.words.length, other.words.length);
    for (let i = 0; i < n; i++) if ((this.words[i] ?? 0) !== (other.words[i] ?? 0)) return false;
    return true;
  }
}

export function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
