import type { EdgeNode } from './edge-node.ts';

/** Words per slot row, and their offsets. */
const SLOT_WORDS = 5;
const SLOT_HASH_LO = 0;
const SLOT_HASH_HI = 1;
const SLOT_POSITION = 2;
const SLOT_REFS = 3;
const SLOT_NODE = 4;

/** Rows per chunk: chunks are never copied or reallocated, so growing touches only new pages. */
const CHUNK_BITS = 16;
const CHUNK_ROWS = 1 << CHUNK_BITS;
const ROW_MASK = CHUNK_ROWS - 1;

/**
 * One row per block position of the tree (a slot): the block_hash of the worker that first wrote
 * it, its position on its edge, how many lookup entries point at it and the id of the edge node
 * holding it, as five adjacent u32 words — a removal touches one cache line for all of them. The
 * tokens_hash lives in the edge arena, contiguous, for the find walk. A slot keeps its id when an
 * edge is split, so the per-worker lookups (block_hash → slot) never need re-pointing; `refs`
 * decides when a detached node is freed.
 *
 * Rows live in fixed chunks of 65,536 added as needed. A single array grown by copying made the
 * race's apply fault in every page ~3 times over (fresh pages cost 1–3 µs each on the VM) and was
 * with the other growing tables ~26 % of apply time.
 */
export class BlockSlots {
  private readonly chunks: Int32Array[] = [];
  /** Edge nodes by id (`EdgeNode.id`). */
  readonly nodes: (EdgeNode | null)[] = [];
  private freeSlots: number[] = [];
  private freeNodeIds: number[] = [];
  private next = 0;
  live = 0;

  /** Gives a new node its id. */
  registerNode(node: EdgeNode): void {
    const id = this.freeNodeIds.pop() ?? this.nodes.length;
    this.nodes[id] = node;
    node.id = id;
  }

  releaseNode(node: EdgeNode): void {
    this.nodes[node.id] = null;
    this.freeNodeIds.push(node.id);
  }

  nodeOf(slot: number): EdgeNode {
    return this.nodes[this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_NODE]!]!;
  }

  hashLo(slot: number): number {
    return this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_HASH_LO]!;
  }

  hashHi(slot: number): number {
    return this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_HASH_HI]!;
  }

  position(slot: number): number {
    return this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_POSITION]!;
  }

  refs(slot: number): number {
    return this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_REFS]!;
  }

  /** Moves the slot to another node (a split): its node id and position on that node's edge. */
  move(slot: number, node: EdgeNode, position: number): void {
    const chunk = this.chunks[slot >>> CHUNK_BITS]!;
    const at = (slot & ROW_MASK) * SLOT_WORDS;
    chunk[at + SLOT_NODE] = node.id;
    chunk[at + SLOT_POSITION] = position;
  }

  addRefs(slot: number, delta: number): void {
    this.chunks[slot >>> CHUNK_BITS]![(slot & ROW_MASK) * SLOT_WORDS + SLOT_REFS]! += delta;
  }

  allocate(hashLo: number, hashHi: number, node: EdgeNode, position: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.next++;
      if (slot >>> CHUNK_BITS >= this.chunks.length)
        this.chunks.push(new Int32Array(CHUNK_ROWS * SLOT_WORDS));
    }
    const chunk = this.chunks[slot >>> CHUNK_BITS]!;
    const at = (slot & ROW_MASK) * SLOT_WORDS;
    chunk[at + SLOT_HASH_LO] = hashLo;
    chunk[at + SLOT_HASH_HI] = hashHi;
    chunk[at + SLOT_POSITION] = position;
    chunk[at + SLOT_REFS] = 0;
    chunk[at + SLOT_NODE] = node.id;
    this.live++;
    return slot;
  }

  release(slot: number): void {
    this.freeSlots.push(slot);
    this.live--;
  }

  /** Approximate heap bytes held. */
  get byteSize(): number {
    return (
      this.chunks.length * CHUNK_ROWS * SLOT_WORDS * 4 + this.freeSlots.length * 8 + this.nodes.length * 8
    );
  }
}
