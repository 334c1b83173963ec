import type { RouterEvent } from '@kvindex/core';
import { TieredKvIndex } from '@kvindex/indexer';
import type { ApplyStatus, PartitionIndex, TierCounts, WorkerBlocks, WorkerMatch } from '../service/ports.ts';

/**
 * @kvindex/indexer's TieredKvIndex behind the service's PartitionIndex port: the device tier is
 * the Dynamo-exact KvIndex (what `scores` count); host, disk and external tiers hold continuation
 * chains, asked only where a worker's chain continues, giving Dynamo's cumulative cpu/disk depths.
 */
export class KvIndexPartition implements PartitionIndex {
  private readonly index = new TieredKvIndex();

  apply(event: RouterEvent): ApplyStatus {
    return mapStatus(this.index.applyEvent(event));
  }

  findMatches(localHashes: BigUint64Array): WorkerMatch[] {
    if (localHashes.length === 0) return [];
    return this.index.findTierDepths(Array.from(localHashes)).map((d) => ({
      workerId: d.worker_id,
      dpRank: d.dp_rank,
      device: d.device,
      host: d.host,
      disk: d.disk,
    }));
  }

  /** The device tier as Dynamo dumps it (lower tiers are not part of Dynamo's dump). */
  dump(): RouterEvent[] {
    return this.index.device.dump();
  }

  removeWorker(workerId: bigint): void {
    this.index.removeWorker(workerId);
  }

  removeWorkerDpRank(workerId: bigint, dpRank: number): void {
    this.index.removeWorkerDpRank(workerId, dpRank);
  }

  workerBlocks(): WorkerBlocks[] {
    const byWorker = new Map<string, WorkerBlocks>();
    const entry = (workerId: bigint, dpRank: number): WorkerBlocks => {
      const key = `${workerId}:${dpRank}`;
      let w = byWorker.get(key);
      if (!w) {
        const blocks: TierCounts = { device: 0, host_pinned: 0, disk: 0, external: 0 };
        w = { workerId, dpRank, blocks };
        byWorker.set(key, w);
      }
      return w;
    };
    for (const r of this.index.device.treeSizes()) entry(r.worker_id, r.dp_rank).blocks.device += r.blocks;
    const lower = [
      ['host_pinned', this.index.host],
      ['disk', this.index.disk],
      ['external', this.index.external],
    ] as const;
    for (const [tier, index] of lower) {
      for (const key of index.rankKeys()) {
        const colon = key.lastIndexOf(':');
        const workerId = BigInt(key.slice(0, colon));
        const dpRank = Number(key.slice(colon + 1));
        entry(workerId, dpRank).blocks[tier] += index.blockCount(workerId, dpRank);
      }
    }
    return [...byWorker.values()];
  }
}

function mapStatus(status: string): ApplyStatus {
  switch (status) {
    case 'ok':
    case 'parent_block_not_found':
    case 'block_not_found':
      return status;
    case 'invalid_block_sequence':
      return 'invalid_block';
    default:
      return 'indexer_invariant_violation';
  }
}

export const kvIndexFactory = (_blockSize: number): PartitionIndex => new KvIndexPartition();
