import type { RouterEvent } from '@kvindex/core';
import { type ColumnarBatch, type ApplyStatus as IndexApplyStatus, TieredKvIndex } from '@kvindex/indexer';
import type { ApplyStatus, PartitionIndex, TierCounts, WorkerBlocks, WorkerMatch } from '../service/ports.ts';

/**
 * @kvindex/indexer's TieredKvIndex behind the service's PartitionIndex port: the device tier is
 * the Dynamo-exact KvIndex (what `scores` count); host, disk and external tiers hold continuation
 * chains, asked only where a worker's chain continues, giving Dynamo's cumulative cpu/disk depths.
 */
export class KvIndexPartition implements PartitionIndex {
  private readonly index = new TieredKvIndex();
  /** A query's hashes as u32 halves (grown as needed, reused across queries). */
  private queryLo = new Uint32Array(1024);
  private queryHi = new Uint32Array(1024);

  apply(event: RouterEvent): ApplyStatus {
    return mapStatus(this.index.applyEvent(event));
  }

  /** Device-tier stored/removed only (TieredKvIndex sends those straight to its device KvIndex too). */
  applyBatchEvent(columns: ColumnarBatch, i: number): ApplyStatus {
    this.index.device.applyBatch(columns, i, i + 1, this.batchStatus);
    return mapStatus(this.batchStatus[0]!);
  }

  /** Reused: one status per applyBatchEvent, without an allocation. */
  private readonly batchStatus: IndexApplyStatus[] = ['ok'];

  findMatches(localHashes: BigUint64Array): WorkerMatch[] {
    if (localHashes.length === 0) return [];
    if (this.lowerTiersEmpty()) return this.findDeviceOnly(localHashes);
    return this.index.findTierDepths(Array.from(localHashes)).map((d) => ({
      workerId: d.worker_id,
      dpRank: d.dp_rank,
      device: d.device,
      host: d.host,
      disk: d.disk,
    }));
  }

  private lowerTiersEmpty(): boolean {
    const { host, disk, external } = this.index;
    return host.rankKeys().length === 0 && disk.rankKeys().length === 0 && external.rankKeys().length === 0;
  }

  /**
   * The common case (engines that publish only device blocks): the device tier's allocation-free
   * find over the hashes' u32 halves, read from the BigUint64Array's bytes without a BigInt each.
   * Host and disk depths then equal the device depth.
   */
  private findDeviceOnly(localHashes: BigUint64Array): WorkerMatch[] {
    const n = localHashes.length;
    if (this.queryLo.length < n) {
      this.queryLo = new Uint32Array(n * 2);
      this.queryHi = new Uint32Array(n * 2);
    }
    const { queryLo, queryHi } = this;
    // Little-endian words: the low half of hash i is word 2i (checked at module load).
    const words = new Uint32Array(localHashes.buffer, localHashes.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      queryLo[i] = words[2 * i]!;
      queryHi[i] = words[2 * i + 1]!;
    }
    const found = this.index.device.findMatchesHalves(queryLo, queryHi, n, false);
    const out: WorkerMatch[] = new Array(found.count);
    for (let i = 0; i < found.count; i++) {
      const blocks = found.scores[i]!;
      out[i] = {
        workerId: found.workerIds[i]!,
        dpRank: found.dpRanks[i]!,
        device: blocks,
        host: blocks,
        disk: blocks,
      };
    }
    return out;
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

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('kv-index-partition: the halves fast path assumes a little-endian platform');
}

export const kvIndexFactory = (_blockSize: number): PartitionIndex => new KvIndexPartition();
