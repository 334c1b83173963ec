import { isRemoved, isStored, type RouterEvent } from '@kvindex/core';
import type { ApplyStatus } from '../apply-status.ts';

interface HeldBlock {
  tokens: bigint;
  parent: bigint | null;
}

/**
 * A deliberately naive model of the index, for property tests: per (worker, dp_rank) a map
 * block_hash → (tokens_hash, parent), a score is the longest chain of held blocks from the root
 * whose tokens equal the query's prefix, and removing a block drops it with everything the rank
 * holds below it. Obviously right for clean streams; it has none of Dynamo's compressed-edge
 * quirks (stale descendants after mid-chain removals), so compare it only on streams where those
 * do not arise: removals of leaves (what vLLM's LRU does).
 */
export class NaiveIndex {
  private readonly ranks = new Map<
    string,
    { workerId: bigint; dpRank: number; blocks: Map<bigint, HeldBlock> }
  >();

  applyEvent(event: RouterEvent): ApplyStatus {
    const rank = this.rank(event.worker_id, event.event.dp_rank);
    const { data } = event.event;
    if (isStored(data)) {
      const { parent_hash: parent, blocks } = data.stored;
      if (parent !== null && blocks.some((b) => b.block_hash === parent)) return 'invalid_block_sequence';
      if (parent !== null && !rank.blocks.has(parent)) return 'parent_block_not_found';
      let previous = parent;
      for (const b of blocks) {
        rank.blocks.set(b.block_hash, { tokens: b.tokens_hash, parent: previous });
        previous = b.block_hash;
      }
      return 'ok';
    }
    if (isRemoved(data)) {
      let status: ApplyStatus = 'ok';
      for (const hash of data.removed.block_hashes) {
        if (!rank.blocks.has(hash)) {
          status = 'block_not_found';
          continue;
        }
        this.dropWithDescendants(rank.blocks, hash);
      }
      return status;
    }
    this.ranks.delete(key(event.worker_id, event.event.dp_rank));
    return 'ok';
  }

  removeWorker(workerId: bigint): void {
    for (const [k, r] of this.ranks) if (r.workerId === workerId) this.ranks.delete(k);
  }

  removeWorkerDpRank(workerId: bigint, dpRank: number): void {
    this.ranks.delete(key(workerId, dpRank));
  }

  clearAllBlocks(workerId: bigint): void {
    for (const r of this.ranks.values()) if (r.workerId === workerId) r.blocks.clear();
  }

  /** "<worker>:<dp>" → consecutive blocks held from block 0 (only ≥ 1). */
  scores(query: readonly bigint[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, r] of this.ranks) {
      const children = new Map<string, bigint>();
      for (const [hash, b] of r.blocks) children.set(`${b.parent}/${b.tokens}`, hash);
      let parent: bigint | null = null;
      let depth = 0;
      for (const tokens of query) {
        const next = children.get(`${parent}/${tokens}`);
        if (next === undefined) break;
        parent = next;
        depth++;
      }
      if (depth > 0) out.set(k, depth);
    }
    return out;
  }

  /** "<worker>:<dp>" → blocks held, for every registered rank. */
  sizes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, r] of this.ranks) out.set(k, r.blocks.size);
    return out;
  }

  private rank(workerId: bigint, dpRank: number) {
    const k = key(workerId, dpRank);
    let r = this.ranks.get(k);
    if (!r) {
      r = { workerId, dpRank, blocks: new Map() };
      this.ranks.set(k, r);
    }
    return r;
  }

  private dropWithDescendants(blocks: Map<bigint, HeldBlock>, hash: bigint): void {
    blocks.delete(hash);
    for (const [h, b] of blocks) if (b.parent === hash && blocks.has(h)) this.dropWithDescendants(blocks, h);
  }
}

function key(workerId: bigint, dpRank: number): string {
  return `${workerId}:${dpRank}`;
}
