import type { ArenaRange } from './edge-arena.ts';
import type { WorkerBits } from './worker-bits.ts';

/**
 * A node of the radix tree: a compressed edge (a run of slots, stored in the `EdgeArena` at
 * [start, start + len)), the workers covering the whole edge and, per partially covering worker,
 * a cutoff k meaning it holds `edge[0..k]` (0 < k < len). Children are found by their first
 * slot's tokens_hash: two inline, the rest in a map keyed by its low half cut to 30 bits
 * (`childKey`), chained through `nextSibling` where keys collide.
 */
/** Shared by every node without partial workers or children until it gets one; never written. */
const NO_CUTOFFS: Map<number, number> = new Map();
const NO_CHILDREN: Map<number, EdgeNode> = new Map();

/**
 * The children map's key for a first tokens_hash low half: 30 bits, so it is a V8 small integer.
 * A full u32 half is a heap number for half of all hashes, which made every Map lookup of the
 * find walk hash (and box) a double.
 */
function childKey(tokensLo: number): number {
  return tokensLo & 0x3fffffff;
}

export class EdgeNode implements ArenaRange {
  /** The edge's range in the arena (owned: [start, start + cap) of chunk `chunk`). */
  chunk: number;
  start: number;
  len: number;
  cap: number;
  /** The first position's tokens_hash as int32 halves (it never changes: a split keeps the head). */
  readonly firstLo: number;
  readonly firstHi: number;
  full: WorkerBits;
  /** Read freely; write only through setCutoff / dropWorker / promoteToFull. */
  cutoffs: Map<number, number>;
  /**
   * The first two children inline, with their first tokens_hash halves as int32 (small
   * integers, not boxed heap numbers): most internal nodes have one or two children, and a find
   * then picks the next node without touching a Map (two dependent cache misses on a cold tree).
   */
  private child0: EdgeNode | null = null;
  private child1: EdgeNode | null = null;
  private c0Lo = 0;
  private c0Hi = 0;
  private c1Lo = 0;
  private c1Hi = 0;
  /** Children past the first two, by `childKey`, chained through `nextSibling`. */
  private more: Map<number, EdgeNode> = NO_CHILDREN;
  childCount = 0;
  nextSibling: EdgeNode | null = null;
  /** null for the root and for nodes no parent links to any more (detached). */
  parent: EdgeNode | null;
  /** Once a node has had children it never extends as a leaf again (Dynamo's rule). */
  internal: boolean;
  /** Lookup entries pointing at this node's slots. */
  refs = 0;
  freed = false;
  /** Index in `BlockSlots.nodes`, set by `registerNode`. */
  id = -1;

  constructor(
    range: ArenaRange,
    firstLo: number,
    firstHi: number,
    full: WorkerBits,
    cutoffs: Map<number, number> | null,
    parent: EdgeNode | null,
    internal: boolean,
  ) {
    this.chunk = range.chunk;
    this.start = range.start;
    this.len = range.len;
    this.cap = range.cap;
    this.firstLo = firstLo | 0;
    this.firstHi = firstHi | 0;
    this.full = full;
    this.cutoffs = cutoffs !== null && cutoffs.size > 0 ? cutoffs : NO_CUTOFFS;
    this.parent = parent;
    this.internal = internal;
  }

  get hasAnyWorkers(): boolean {
    return this.full.size > 0 || this.cutoffs.size > 0;
  }

  covers(worker: number, position: number): boolean {
    if (this.full.has(worker)) return true;
    const cutoff = this.cutoffs.get(worker);
    return cutoff !== undefined && position < cutoff;
  }

  currentCutoff(worker: number): number {
    if (this.full.has(worker)) return this.len;
    return this.cutoffs.get(worker) ?? 0;
  }

  dropWorker(worker: number): void {
    this.full.delete(worker);
    if (this.cutoffs.size > 0) this.cutoffs.delete(worker);
  }

  setCutoff(worker: number, cutoff: number): void {
    if (this.cutoffs === NO_CUTOFFS) this.cutoffs = new Map();
    this.cutoffs.set(worker, cutoff);
  }

  /** Returns whether coverage changed. */
  promoteToFull(worker: number): boolean {
    if (this.full.has(worker)) return false;
    if (this.cutoffs.size > 0) this.cutoffs.delete(worker);
    this.full.add(worker);
    return true;
  }

  /** Raises the worker's coverage to at least `cutoff` blocks; returns whether it changed. */
  coverPrefix(worker: number, cutoff: number): boolean {
    if (cutoff === 0) return false;
    if (cutoff >= this.len) return this.promoteToFull(worker);
    if (this.full.has(worker)) return false;
    const existing = this.cutoffs.get(worker);
    if (existing !== undefined && existing >= cutoff) return false;
    this.setCutoff(worker, cutoff);
    return true;
  }

  child(tokensLo: number, tokensHi: number): EdgeNode | undefined {
    const lo = tokensLo | 0;
    const hi = tokensHi | 0;
    if (this.c0Lo === lo && this.c0Hi === hi && this.child0 !== null) return this.child0;
    if (this.c1Lo === lo && this.c1Hi === hi && this.child1 !== null) return this.child1;
    if (this.more.size === 0) return undefined;
    let c: EdgeNode | null = this.more.get(childKey(lo)) ?? null;
    while (c !== null) {
      if (c.firstHi === hi && c.firstLo === lo) return c;
      c = c.nextSibling;
    }
    return undefined;
  }

  addChild(child: EdgeNode): void {
    this.childCount++;
    if (this.child0 === null) this.setChild0(child);
    else if (this.child1 === null) this.setChild1(child);
    else this.addToMore(child);
  }

  /** Unlinks exactly this child object (a replacement under the same key is left alone). */
  removeChild(child: EdgeNode): boolean {
    if (this.child0 === child) {
      this.setChild0(this.child1);
      this.setChild1(this.takeOneFromMore());
    } else if (this.child1 === child) {
      this.setChild1(this.takeOneFromMore());
    } else if (!this.removeFromMore(child)) {
      return false;
    }
    child.nextSibling = null;
    this.childCount--;
    return true;
  }

  forEachChild(visit: (child: EdgeNode) => void): void {
    if (this.child0 !== null) visit(this.child0);
    if (this.child1 !== null) visit(this.child1);
    if (this.more.size === 0) return;
    for (const head of this.more.values()) {
      for (let c: EdgeNode | null = head; c !== null; c = c.nextSibling) visit(c);
    }
  }

  /** Children in a list, detached from this node (the caller re-links or drops them). */
  takeChildren(): EdgeNode[] {
    const out: EdgeNode[] = [];
    this.forEachChild((c) => out.push(c));
    for (const c of out) c.nextSibling = null;
    this.setChild0(null);
    this.setChild1(null);
    this.more = NO_CHILDREN;
    this.childCount = 0;
    return out;
  }

  private setChild0(child: EdgeNode | null): void {
    this.child0 = child;
    this.c0Lo = child === null ? 0 : child.firstLo;
    this.c0Hi = child === null ? 0 : child.firstHi;
  }

  private setChild1(child: EdgeNode | null): void {
    this.child1 = child;
    this.c1Lo = child === null ? 0 : child.firstLo;
    this.c1Hi = child === null ? 0 : child.firstHi;
  }

  private addToMore(child: EdgeNode): void {
    const key = childKey(child.firstLo);
    if (this.more === NO_CHILDREN) this.more = new Map();
    child.nextSibling = this.more.get(key) ?? null;
    this.more.set(key, child);
  }

  private removeFromMore(child: EdgeNode): boolean {
    if (this.more.size === 0) return false;
    const key = childKey(child.firstLo);
    const head = this.more.get(key);
    if (head === undefined) return false;
    if (head === child) {
      if (child.nextSibling) this.more.set(key, child.nextSibling);
      else this.more.delete(key);
      return true;
    }
    let prev = head;
    while (prev.nextSibling !== null) {
      if (prev.nextSibling === child) {
        prev.nextSibling = child.nextSibling;
        return true;
      }
      prev = prev.nextSibling;
    }
    return false;
  }

  /** Any one child of `more`, unlinked from it; null when it is empty. */
  private takeOneFromMore(): EdgeNode | null {
    if (this.more.size === 0) return null;
    const [key, head] = this.more.entries().next().value as [number, EdgeNode];
    if (head.nextSibling) this.more.set(key, head.nextSibling);
    else this.more.delete(key);
    head.nextSibling = null;
    return head;
  }
}
