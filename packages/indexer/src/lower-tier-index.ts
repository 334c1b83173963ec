import type { ApplyStatus } from './apply-status.ts';
import { workerKeyText } from './worker-key.ts';

interface RankBlocks {
  workerId: bigint;
  /** block_hash → the edge (parent, tokens) it continues. */
  byHash: Map<bigint, string>;
  /** `${parent}/${tokens}` → block_hash: what continues a given block with given tokens. */
  edges: Map<string, bigint>;
}

/**
 * What a lower storage tier (host memory, disk, external) of each (worker, dp_rank) holds, as
 * continuation edges: a block continues its parent block, whichever tier that parent lives in.
 * Queries continue a rank's chain from where its higher tiers stopped matching, which is how
 * Dynamo's cumulative cpu / disk depths are counted.
 */
export class LowerTierIndex {
  private readonly ranks = new Map<string, RankBlocks>();

  stored(
    workerId: bigint,
    dpRank: number,
    parent: bigint | null,
    blocks: readonly { block_hash: bigint; tokens_hash: bigint }[],
  ): ApplyStatus {
    if (parent !== null && blocks.some((b) => b.block_hash === parent)) return 'invalid_block_sequence';
    const rank = this.rank(workerId, dpRank);
    let previous = parent;
    for (const b of blocks) {
      const edge = edgeKey(previous, b.tokens_hash);
      const old = rank.byHash.get(b.block_hash);
      if (old !== undefined && old !== edge) rank.edges.delete(old);
      rank.byHash.set(b.block_hash, edge);
      rank.edges.set(edge, b.block_hash);
      previous = b.block_hash;
    }
    return 'ok';
  }

  removed(workerId: bigint, dpRank: number, hashes: readonly bigint[]): ApplyStatus {
    const rank = this.ranks.get(workerKeyText(workerId, dpRank));
    let status: ApplyStatus = 'ok';
    for (const hash of hashes) {
      const edge = rank?.byHash.get(hash);
      if (rank === undefined || edge === undefined) {
        status = 'block_not_found';
        continue;
      }
      rank.byHash.delete(hash);
      if (rank.edges.get(edge) === hash) rank.edges.delete(edge);
    }
    return status;
  }

  removeRank(workerId: bigint, dpRank: number): void {
    this.ranks.delete(workerKeyText(workerId, dpRank));
  }

  removeWorker(workerId: bigint): void {
    for (const [key, rank] of this.ranks) if (rank.workerId === workerId) this.ranks.delete(key);
  }

  clearAllBlocks(workerId: bigint): void {
    for (const rank of this.ranks.values()) {
      if (rank.workerId !== workerId) continue;
      rank.byHash.clear();
      rank.edges.clear();
    }
  }

  /** Ranks holding anything in this tier, as "<worker>:<dp>". */
  rankKeys(): string[] {
    return [...this.ranks].filter(([, r]) => r.byHash.size > 0).map(([k]) => k);
  }

  blockCount(workerId: bigint, dpRank: number): number {
    return this.ranks.get(workerKeyText(workerId, dpRank))?.byHash.size ?? 0;
  }

  /**
   * How many of `localHashes[start..]` continue the rank's chain after block `parent` (null: from
   * the root) in this tier, up to `end`; returns the count and the last block continued from.
   */
  continueChain(
    rankKey: string,
    parent: bigint | null,
    localHashes: readonly bigint[],
    start: number,
    end = localHashes.length,
  ): { blocks: number; last: bigint | null } {
    const rank = this.ranks.get(rankKey);
    let last = parent;
    let blocks = 0;
    if (rank === undefined) return { blocks, last };
    for (let i = start; i < end; i++) {
      const next = rank.edges.get(edgeKey(last, localHashes[i]!));
      if (next === undefined) break;
      last = next;
      blocks++;
    }
    return { blocks, last };
  }

  private rank(workerId: bigint, dpRank: number): RankBlocks {
    const key = workerKeyText(workerId, dpRank);
    let rank = this.ranks.get(key);
    if (!rank) {
      rank = { workerId, byHash: new Map(), edges: new Map() };
      this.ranks.set(key, rank);
    }
    return rank;
  }
}

function edgeKey(parent: bigint | null, tokens: bigint): string {
  return `${parent ?? 'root'}/${tokens}`;
}
