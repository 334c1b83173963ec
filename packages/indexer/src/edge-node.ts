import type { ArenaRange } from './edge-arena.ts';
import type { WorkerBits } from './worker-bits.ts';

/**
 * A node of the radix tree: a compressed edge (a run of slots, stored in the `EdgeArena` at
 * [start, start + len)), the workers covering the whole edge and, per partially covering worker,
 * a cutoff k meaning it holds `edge[0..k]` (0 < k < len). Children are keyed by their first
 * slot's tokens_hash; the map key is its low half cut to 30 bits (`childKey`) and children
 * sharing a key are chained through `nextSibling`.
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
  /** The edge's range in the arena (owned: [start, start + cap)). */
  start: number;
  len: number;
  cap: number;
  /** The first position's tokens_hash (it never changes: a split keeps the head), for child lookups. */
  readonly firstLo: number;
  readonly firstHi: number;
  full: WorkerBits;
  /** Read freely; write only through setCutoff / dropWorker / promoteToFull. */
  cutoffs: Map<number, number>;
  /** Read freely; write only through addChild / removeChild / takeChildren. */
  children: Map<number, EdgeNode> = NO_CHILDREN;
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
    this.start = range.start;
    this.len = range.len;
    this.cap = range.cap;
    this.firstLo = firstLo;
    this.firstHi = firstHi;
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
    let c: EdgeNode | null = this.children.get(childKey(tokensLo)) ?? null;
    while (c !== null) {
      if (c.firstHi === tokensHi && c.firstLo === tokensLo) return c;
      c = c.nextSibling;
    }
    return undefined;
  }

  addChild(child: EdgeNode): void {
    const key = childKey(child.firstLo);
    if (this.children === NO_CHILDREN) this.children = new Map();
    const head = this.children.get(key);
    child.nextSibling = head ?? null;
    this.children.set(key, child);
  }

  /** Unlinks exactly this child object (a replacement under the same key is left alone). */
  removeChild(child: EdgeNode): boolean {
    const key = childKey(child.firstLo);
    const head = this.children.get(key);
    if (head === undefined) return false;
    if (head === child) {
      if (child.nextSibling) this.children.set(key, child.nextSibling);
      else this.children.delete(key);
      child.nextSibling = null;
      return true;
    }
    let prev = head;
    while (prev.nextSibling !== null) {
      if (prev.nextSibling === child) {
        prev.nextSibling = child.nextSibling;
        child.nextSibling = null;
        return true;
      }
      prev = prev.nextSibling;
    }
    return false;
  }

  forEachChild(visit: (child: EdgeNode) => void): void {
    for (const head of this.children.values()) {
      for (let c: EdgeNode | null = head; c !== null; c = c.nextSibling) visit(c);
    }
  }

  /** Children in a list, detached from this node's map (the caller re-links or drops them). */
  takeChildren(): EdgeNode[] {
    const out: EdgeNode[] = [];
    this.forEachChild((c) => out.push(c));
    for (const c of out) c.nextSibling = null;
    this.children = NO_CHILDREN;
    return out;
  }
}
