import { isRemoved, isStored, type RouterEvent } from '@kvindex/core';
import type { ApplyStatus } from './apply-status.ts';
import { type FindOptions, KvIndex, type MatchScores } from './kv-index.ts';
import { LowerTierIndex } from './lower-tier-index.ts';
import { workerKeyText } from './worker-key.ts';

/** Per (worker, dp_rank), cumulative matched blocks by tier, as Dynamo's ScoreResponse counts them. */
export interface TierDepth {
  worker_id: bigint;
  dp_rank: number;
  /** Device blocks from block 0 (`gpu`, and `dp[rank]`). */
  device: number;
  /** Device plus the host-memory blocks continuing the chain (`cpu`). */
  host: number;
  /** Host depth plus the disk and external blocks continuing it (`disk`). */
  disk: number;
}

/**
 * The index of one partition across storage tiers: the device tier is the Dynamo-exact
 * `KvIndex` (what `scores` count); host, disk and external tiers are kept apart, so a `removed`
 * on one tier never touches another, and are only asked where a chain continues.
 */
export class TieredKvIndex {
  readonly device = new KvIndex();
  readonly host = new LowerTierIndex();
  readonly disk = new LowerTierIndex();
  readonly external = new LowerTierIndex();

  applyEvent(event: RouterEvent): ApplyStatus {
    if (event.event.data === 'cleared') return this.clearRank(event);
    if (event.storage_tier === 'device') return this.device.applyEvent(event);
    const tier =
      event.storage_tier === 'host_pinned'
        ? this.host
        : event.storage_tier === 'disk'
          ? this.disk
          : this.external;
    const { data, dp_rank: dp } = event.event;
    if (isStored(data)) return tier.stored(event.worker_id, dp, data.stored.parent_hash, data.stored.blocks);
    if (isRemoved(data)) return tier.removed(event.worker_id, dp, data.removed.block_hashes);
    return 'ok';
  }

  /** AllBlocksCleared drops the emitting (worker, dp_rank) on every tier, whichever tier it names (Dynamo). */
  private clearRank(event: RouterEvent): ApplyStatus {
    const { worker_id: workerId } = event;
    const dp = event.event.dp_rank;
    let status: ApplyStatus = 'ok';
    if (event.storage_tier === 'device') status = this.device.applyEvent(event);
    else this.device.removeWorkerDpRank(workerId, dp);
    for (const tier of this.lowerTiers()) tier.removeRank(workerId, dp);
    return status;
  }

  removeWorker(workerId: bigint): void {
    this.device.removeWorker(workerId);
    for (const tier of this.lowerTiers()) tier.removeWorker(workerId);
  }

  removeWorkerDpRank(workerId: bigint, dpRank: number): void {
    this.device.removeWorkerDpRank(workerId, dpRank);
    for (const tier of this.lowerTiers()) tier.removeRank(workerId, dpRank);
  }

  clearAllBlocks(workerId: bigint): void {
    this.device.clearAllBlocks(workerId);
    for (const tier of this.lowerTiers()) tier.clearAllBlocks(workerId);
  }

  findMatches(localHashes: readonly bigint[], options: FindOptions = {}): MatchScores {
    return this.device.findMatches(localHashes, options);
  }

  /** Cumulative depths per rank; ranks matching only in lower tiers are included with device 0. */
  findTierDepths(localHashes: readonly bigint[]): TierDepth[] {
    const device = this.device.findMatches(localHashes, { lastBlockHashes: true });
    const ranks = new Map<
      string,
      { worker_id: bigint; dp_rank: number; device: number; last: bigint | null }
    >();
    for (let i = 0; i < device.count; i++) {
      const key = workerKeyText(device.workerIds[i]!, device.dpRanks[i]!);
      ranks.set(key, {
        worker_id: device.workerIds[i]!,
        dp_rank: device.dpRanks[i]!,
        device: device.scores[i]!,
        last: device.lastBlockHashes![i]!,
      });
    }
    for (const tier of this.lowerTiers()) {
      for (const key of tier.rankKeys()) {
        if (ranks.has(key)) continue;
        const colon = key.lastIndexOf(':');
        ranks.set(key, {
          worker_id: BigInt(key.slice(0, colon)),
          dp_rank: Number(key.slice(colon + 1)),
          device: 0,
          last: null,
        });
      }
    }
    const out: TierDepth[] = [];
    for (const [key, r] of ranks) {
      const host = this.host.continueChain(key, r.last, localHashes, r.device);
      let depth = r.device + host.blocks;
      const hostDepth = depth;
      let last = host.last;
      // Disk and external blocks may interleave along one chain: one block at a time from either.
      while (depth < localHashes.length) {
        const fromDisk = this.disk.continueChain(key, last, localHashes, depth, depth + 1);
        const step =
          fromDisk.blocks > 0
            ? fromDisk
            : this.external.continueChain(key, last, localHashes, depth, depth + 1);
        if (step.blocks === 0) break;
        depth += step.blocks;
        last = step.last;
      }
      if (depth > 0)
        out.push({
          worker_id: r.worker_id,
          dp_rank: r.dp_rank,
          device: r.device,
          host: hostDepth,
          disk: depth,
        });
    }
    return out;
  }

  private lowerTiers(): LowerTierIndex[] {
    return [this.host, this.disk, this.external];
  }
}
