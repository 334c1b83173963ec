import type { EdgeNode } from './edge-node.ts';

/** Words per slot in `BlockSlots.data`, and their offsets. */
export const SLOT_WORDS = 5;
export const SLOT_HASH_LO = 0;
export const SLOT_HASH_HI = 1;
export const SLOT_POSITION = 2;
export const SLOT_REFS = 3;
export const SLOT_NODE = 4;

/**
 * One row per block position of the tree (a slot): the block_hash of the worker that first wrote
 * it, its position on its edge, how many lookup entries point at it and the id of the edge node
 * holding it, as five adjacent u32 words in `data` — a removal touches one cache line for all of
 * them. The tokens_hash lives on the node, contiguous, for the find walk. A slot keeps its id when
 * an edge is split, so the per-worker lookups (block_hash → slot) never need re-pointing; `refs`
 * decides when a detached node is freed.
 */
export class BlockSlots {
  data: Uint32Array = new Uint32Array(SLOT_WORDS * 65536);
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
    return this.nodes[this.data[slot * SLOT_WORDS + SLOT_NODE]!]!;
  }

  allocate(hashLo: number, hashHi: number, node: EdgeNode, position: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.next++;
      if (slot * SLOT_WORDS >= this.data.length) this.grow();
    }
    const at = slot * SLOT_WORDS;
    const data = this.data;
    data[at + SLOT_HASH_LO] = hashLo;
    data[at + SLOT_HASH_HI] = hashHi;
    data[at + SLOT_POSITION] = position;
    data[at + SLOT_REFS] = 0;
    data[at + SLOT_NODE] = node.id;
    this.live++;
    return slot;
  }

  release(slot: number): void {
    this.freeSlots.push(slot);
    this.live--;
  }

  /** Approximate heap bytes held. */
  get byteSize(): number {
    return this.data.byteLength + this.freeSlots.length * 8 + this.nodes.length * 8;
  }

  private grow(): void {
    // By half, not double: the column is most of the index's memory, and doubling left up to
    // half of it unused (measured ~40 of 97 heap bytes per block on the race).
    const data = new Uint32Array(Math.ceil(this.data.length / SLOT_WORDS / 2) * 3 * SLOT_WORDS);
    data.set(this.data);
    this.data = data;
  }
}
