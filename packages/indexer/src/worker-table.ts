import { fromHalves } from './u64-halves.ts';
import { U64Map } from './u64-map.ts';

/**
 * The (worker_id, dp_rank) pairs, each under a small integer index, with the rank's lookup of
 * engine block hashes → slot while it is registered. A pair keeps its index for the life of the
 * index, as Dynamo keys coverage by the pair itself: a removed and re-registered rank is the
 * same rank.
 */
export class WorkerTable {
  readonly workerIds: bigint[] = [];
  readonly dpRanks: number[] = [];
  /** null while the rank is not registered. */
  readonly lookups: (U64Map | null)[] = [];
  /**
   * Per rank, the slots where the rank's own block_hash differs from the one on the edge (its
   * engine hashes with another seed than the first writer's): slot → own hash. Dumps use it so a
   * replay keeps resolving the rank's own hashes.
   */
  readonly ownHashes: (Map<number, bigint> | null)[] = [];
  /** worker_id → dp_rank → index: no string built per event. */
  private readonly byWorker = new Map<bigint, Map<number, number>>();
  private readonly live = new Set<number>();

  /** The rank's index if it is registered, else -1. */
  indexOf(workerId: bigint, dpRank: number): number {
    const index = this.byWorker.get(workerId)?.get(dpRank);
    return index !== undefined && this.live.has(index) ? index : -1;
  }

  private lastWorkerId = -1n;
  private lastDpRank = -1;
  private lastIndex = -1;

  private lastLo = -1;
  private lastHi = -1;

  /**
   * `register` for a worker id given as u32 halves (a columnar batch): a repeat of the last
   * rank costs no BigInt.
   */
  registerHalves(lo: number, hi: number, dpRank: number): number {
    if (
      lo === this.lastLo &&
      hi === this.lastHi &&
      dpRank === this.lastDpRank &&
      this.lookups[this.lastIndex] !== null
    ) {
      return this.lastIndex;
    }
    const index = this.register(fromHalves(lo, hi), dpRank);
    this.lastLo = lo;
    this.lastHi = hi;
    return index;
  }

  /** The rank's index, registering it with an empty lookup first if needed. */
  register(workerId: bigint, dpRank: number): number {
    // Events come in runs from one rank; skip the two map lookups for a repeat.
    if (
      workerId === this.lastWorkerId &&
      dpRank === this.lastDpRank &&
      this.lookups[this.lastIndex] !== null
    ) {
      return this.lastIndex;
    }
    let ranks = this.byWorker.get(workerId);
    if (ranks === undefined) {
      ranks = new Map();
      this.byWorker.set(workerId, ranks);
    }
    let index = ranks.get(dpRank);
    if (index === undefined) {
      index = this.workerIds.length;
      this.workerIds.push(workerId);
      this.dpRanks.push(dpRank);
      this.lookups.push(null);
      this.ownHashes.push(null);
      ranks.set(dpRank, index);
    }
    if (this.lookups[index] === null) {
      // Sized for a few thousand blocks: the first regrowths of a busy rank are skipped.
      this.lookups[index] = new U64Map(2048);
      this.live.add(index);
    }
    this.lastWorkerId = workerId;
    this.lastDpRank = dpRank;
    this.lastIndex = index;
    // Set by registerHalves after this returns; a BigInt registration invalidates them.
    this.lastLo = -1;
    this.lastHi = -1;
    return index;
  }

  unregister(index: number): void {
    this.lookups[index] = null;
    this.ownHashes[index] = null;
    this.live.delete(index);
  }

  /** Indices of every registered rank of a worker id. */
  ranksOf(workerId: bigint): number[] {
    const out: number[] = [];
    for (const index of this.live) if (this.workerIds[index] === workerId) out.push(index);
    return out;
  }

  registered(): number[] {
    return [...this.live];
  }

  get count(): number {
    return this.live.size;
  }
}
