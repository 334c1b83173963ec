import { computeSequenceHashes } from '@kvindex/core';
import { type FindOptions, KvIndex, type MatchScores } from './kv-index.ts';
import { workerKeyText } from './worker-key.ts';

export interface ApproximateOptions {
  /** How long a routed chain is assumed cached (Dynamo's `PruneConfig.ttl`, default 120 s). */
  ttlMs?: number;
  /** Our cap on blocks held (default 2^20); beyond it the index prunes to `pruneTargetRatio` of it. */
  maxTreeSize?: number;
  pruneTargetRatio?: number;
  /** Milliseconds; injectable so tests never sleep. */
  now?: () => number;
}

/** Expiries are rounded up to 100 ms buckets, as Dynamo does. */
export const EXPIRY_BUCKET_MS = 100;

interface Held {
  expiry: number;
  depth: number;
}

/**
 * Approximate mode: no engine events, the router records its own decisions. A routed request's
 * chain is stored for the chosen rank with a TTL, refreshed whenever it is routed again; expired
 * blocks leave leaves-first, and past `maxTreeSize` the earliest expiries go first.
 */
export class ApproximateKvIndex {
  readonly index = new KvIndex();
  private readonly ttlMs: number;
  private readonly maxTreeSize: number;
  private readonly pruneTarget: number;
  private readonly now: () => number;
  private readonly held = new Map<string, { workerId: bigint; dpRank: number; blocks: Map<bigint, Held> }>();
  /** Bucket time → the (rank, block) entries expiring then; stale entries are skipped when due. */
  private readonly buckets = new Map<number, [string, bigint][]>();
  private bucketTimes: number[] = [];
  private eventId = 0n;

  constructor(options: ApproximateOptions = {}) {
    this.ttlMs = options.ttlMs ?? 120_000;
    this.maxTreeSize = options.maxTreeSize ?? 2 ** 20;
    this.pruneTarget = Math.floor(this.maxTreeSize * (options.pruneTargetRatio ?? 0.8));
    this.now = options.now ?? Date.now;
  }

  /** Records that a request with these block (tokens) hashes was routed to the rank. */
  recordRouting(workerId: bigint, dpRank: number, localHashes: readonly bigint[]): void {
    this.expire();
    if (localHashes.length === 0) return;
    const sequence = computeSequenceHashes(localHashes);
    this.index.applyEvent({
      worker_id: workerId,
      storage_tier: 'device',
      event: {
        event_id: this.eventId++,
        dp_rank: dpRank,
        data: {
          stored: {
            parent_hash: null,
            blocks: localHashes.map((tokens, i) => ({ block_hash: sequence[i]!, tokens_hash: tokens })),
          },
        },
      },
    });
    const key = workerKeyText(workerId, dpRank);
    let rank = this.held.get(key);
    if (!rank) {
      rank = { workerId, dpRank, blocks: new Map() };
      this.held.set(key, rank);
    }
    const expiry = Math.ceil((this.now() + this.ttlMs) / EXPIRY_BUCKET_MS) * EXPIRY_BUCKET_MS;
    let bucket = this.buckets.get(expiry);
    if (!bucket) {
      bucket = [];
      this.buckets.set(expiry, bucket);
      this.insertBucketTime(expiry);
    }
    for (let i = 0; i < sequence.length; i++) {
      rank.blocks.set(sequence[i]!, { expiry, depth: i });
      bucket.push([key, sequence[i]!]);
    }
    if (this.index.currentSize > this.maxTreeSize) this.prune();
  }

  findMatches(localHashes: readonly bigint[], options: FindOptions = {}): MatchScores {
    this.expire();
    return this.index.findMatches(localHashes, options);
  }

  get size(): number {
    return this.index.currentSize;
  }

  /** Drops every block whose expiry has passed, deepest first. */
  expire(): void {
    const now = this.now();
    while (this.bucketTimes.length > 0 && this.bucketTimes[0]! <= now) {
      const time = this.bucketTimes.shift()!;
      const due = this.buckets.get(time)!;
      this.buckets.delete(time);
      const current = due
        .map(([key, hash]) => ({ key, hash, held: this.held.get(key)?.blocks.get(hash) }))
        .filter((e) => e.held !== undefined && e.held.expiry === time);
      current.sort((a, b) => b.held!.depth - a.held!.depth);
      for (const e of current) this.drop(e.key, e.hash);
    }
  }

  private prune(): void {
    const all: { key: string; hash: bigint; expiry: number; depth: number }[] = [];
    for (const [key, rank] of this.held) for (const [hash, h] of rank.blocks) all.push({ key, hash, ...h });
    all.sort((a, b) => a.expiry - b.expiry || b.depth - a.depth);
    for (const e of all) {
      if (this.index.currentSize <= this.pruneTarget) break;
      this.drop(e.key, e.hash);
    }
  }

  private drop(key: string, hash: bigint): void {
    const rank = this.held.get(key)!;
    rank.blocks.delete(hash);
    this.index.applyEvent({
      worker_id: rank.workerId,
      storage_tier: 'device',
      event: { event_id: this.eventId++, dp_rank: rank.dpRank, data: { removed: { block_hashes: [hash] } } },
    });
  }

  private insertBucketTime(time: number): void {
    let i = this.bucketTimes.length;
    while (i > 0 && this.bucketTimes[i - 1]! > time) i--;
    this.bucketTimes.splice(i, 0, time);
  }
}
