import type { RouterEvent } from '@kvindex/core';
import { LruBlockPool } from './block-pool.ts';
import { type EngineHashMode, engineHashSeed, perEngineBlockHash } from './engine-hashes.ts';
import type { SimRequest } from './request.ts';

/**
 * How evictions become Removed events: `per-block` is what vLLM emits (one BlockRemoved per
 * evicted block); `batched` folds one request's evictions into a single Removed event.
 */
export type RemovedEventMode = 'per-block' | 'batched';

export const REMOVED_EVENT_MODES: readonly RemovedEventMode[] = ['per-block', 'batched'];

export interface EngineOptions {
  workerId: bigint;
  dpRank?: number;
  /** Pool size in blocks. */
  capacity: number;
  blockSize: number;
  engineHashes?: EngineHashMode;
  /** Seeds the per-engine block hashes (ignored when hashes are shared). */
  seed?: bigint;
  removedEvents?: RemovedEventMode;
}

/** Blocks evicted to make room, as one vLLM-side BlockRemoved (or several folded together). */
export interface RemovedBlocks {
  eventId: bigint;
  /** Engine block hashes, in eviction order. */
  blockHashes: bigint[];
}

/** The blocks a request added to the cache, with everything a vLLM BlockStored carries. */
export interface StoredBlocks {
  eventId: bigint;
  /** Engine hash of the block before the first stored one; null when storing from the root. */
  parentHash: bigint | null;
  /** Engine block hashes of the stored blocks. */
  blockHashes: BigUint64Array;
  /** Dynamo LocalBlockHash of each stored block (the RouterEvent's tokens_hash). */
  tokensHashes: BigUint64Array;
  /** The stored blocks' tokens, blockSize per block (a view of the request's tokens). */
  tokenIds: Uint32Array;
  blockSize: number;
  /** Index of the first stored block within the request. */
  startBlock: number;
}

/** What one engine did for one request, in emission order: removals first, then the store. */
export interface EngineOutput {
  workerId: bigint;
  dpRank: number;
  /** Blocks of the request found cached (a contiguous prefix). */
  hitBlocks: number;
  /** Blocks the request occupies: its full blocks, capped at the pool's capacity. */
  blockCount: number;
  removed: RemovedBlocks[];
  stored: StoredBlocks | null;
}

/** One vLLM engine process (a worker's dp rank) with a prefix-cached LRU block pool. */
export class SimEngine {
  readonly workerId: bigint;
  readonly dpRank: number;
  readonly blockSize: number;
  readonly engineHashes: EngineHashMode;
  readonly removedEvents: RemovedEventMode;
  readonly pool: LruBlockPool;
  private readonly hashSeed: bigint;
  private nextEventId = 0n;

  constructor(options: EngineOptions) {
    this.workerId = options.workerId;
    this.dpRank = options.dpRank ?? 0;
    this.blockSize = options.blockSize;
    this.engineHashes = options.engineHashes ?? 'shared';
    this.removedEvents = options.removedEvents ?? 'per-block';
    this.pool = new LruBlockPool(options.capacity);
    this.hashSeed = engineHashSeed(options.seed ?? 0n, this.workerId, this.dpRank);
  }

  /** Blocks currently cached. */
  get cachedBlocks(): number {
    return this.pool.cachedCount;
  }

  /** How many leading blocks of the request this engine holds now. */
  matchPrefix(request: SimRequest): number {
    return this.pool.matchPrefix(request.sequenceWords);
  }

  /**
   * Runs a request's prefill: touches its cached prefix, evicts least recently used free blocks for
   * the rest and stores them. A request longer than the pool keeps only its first `capacity` blocks.
   */
  handle(request: SimRequest): EngineOutput {
    if (request.blockSize !== this.blockSize) {
      throw new RangeError(
        `request hashed at block size ${request.blockSize}, engine uses ${this.blockSize}`,
      );
    }
    const pool = this.pool;
    const seq = request.sequenceHashes;
    const words = request.sequenceWords;
    const count = Math.min(seq.length, pool.capacity);
    const slots = new Int32Array(count);
    let hit = 0;
    for (; hit < count; hit++) {
      const slot = pool.slotOfWords(words[2 * hit]!, words[2 * hit + 1]!);
      if (slot < 0) break;
      pool.acquire(slot);
      slots[hit] = slot;
    }
    const removed: RemovedBlocks[] = [];
    let batch: bigint[] | null = null;
    const stored = count - hit;
    const blockHashes = new BigUint64Array(stored);
    let parent: bigint | null = hit > 0 ? pool.engineHashOf(slots[hit - 1]!) : null;
    const parentHash = parent;
    for (let i = hit; i < count; i++) {
      const slot = pool.popLeastRecent();
      if (pool.isCached(slot)) {
        const evicted = pool.uncache(slot);
        if (this.removedEvents === 'per-block')
          removed.push({ eventId: this.nextEventId++, blockHashes: [evicted] });
        else if (batch) batch.push(evicted);
        else {
          batch = [evicted];
          removed.push({ eventId: this.nextEventId++, blockHashes: batch });
        }
      }
      const local = request.localHashes[i]!;
      const engineHash =
        this.engineHashes === 'shared' ? seq[i]! : perEngineBlockHash(this.hashSeed, parent, local);
      pool.cache(slot, seq[i]!, engineHash);
      blockHashes[i - hit] = engineHash;
      slots[i] = slot;
      parent = engineHash;
    }
    pool.release(slots);
    const bs = this.blockSize;
    return {
      workerId: this.workerId,
      dpRank: this.dpRank,
      hitBlocks: hit,
      blockCount: count,
      removed,
      stored:
        stored === 0
          ? null
          : {
              eventId: this.nextEventId++,
              parentHash,
              blockHashes,
              tokensHashes: request.localHashes.subarray(hit, count),
              tokenIds: request.tokens.subarray(hit * bs, count * bs),
              blockSize: bs,
              startBlock: hit,
            },
    };
  }
}

/** The Dynamo RouterEvents (snake_case wire shape) for one engine output, in emission order. */
export function toRouterEvents(output: EngineOutput): RouterEvent[] {
  const events: RouterEvent[] = [];
  for (const r of output.removed) {
    events.push({
      worker_id: output.workerId,
      storage_tier: 'device',
      event: {
        event_id: r.eventId,
        dp_rank: output.dpRank,
        data: { removed: { block_hashes: r.blockHashes } },
      },
    });
  }
  const s = output.stored;
  if (s) {
    const blocks = new Array(s.blockHashes.length);
    for (let i = 0; i < blocks.length; i++) {
      blocks[i] = { block_hash: s.blockHashes[i]!, tokens_hash: s.tokensHashes[i]! };
    }
    events.push({
      worker_id: output.workerId,
      storage_tier: 'device',
      event: {
        event_id: s.eventId,
        dp_rank: output.dpRank,
        data: { stored: { parent_hash: s.parentHash, blocks } },
      },
    });
  }
  return events;
}
