import { computeBlockHashes, computeSequenceHashes } from '@kvindex/core';
import type { EngineOutputLike } from '../engine-output.ts';

interface CachedBlock {
  parent: bigint | null;
  children: number;
  lastUse: number;
}

/**
 * A small prefix-caching engine for transport tests: requests share a few system prompts, blocks
 * are vLLM sequence hashes, and full pools evict least-recently-used leaves. Its `cached` set is
 * the ground truth an index fed by its events must reproduce.
 */
export class TestEngine {
  readonly blockSize: number;
  readonly capacity: number;
  readonly cached = new Map<bigint, CachedBlock>();
  private clock = 0;
  private state: number;

  constructor(options: { blockSize: number; capacity: number; seed: number }) {
    this.blockSize = options.blockSize;
    this.capacity = options.capacity;
    this.state = options.seed >>> 0 || 1;
  }

  private random(n: number): number {
    // xorshift32: deterministic per seed, good enough for workload shapes.
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }

  /** Serves one generated request and reports what the cache did. */
  step(): EngineOutputLike {
    const bs = this.blockSize;
    const prompt = this.random(4);
    const prefixBlocks = 2 + prompt;
    const suffixBlocks = 1 + this.random(4);
    const tokens: number[] = [];
    for (let i = 0; i < prefixBlocks * bs; i++) tokens.push(1000 * (prompt + 1) + i);
    for (let i = 0; i < suffixBlocks * bs; i++) tokens.push(10 + this.random(50_000));
    const seq = computeSequenceHashes(computeBlockHashes(tokens, bs));
    const now = ++this.clock;
    let hit = 0;
    while (hit < seq.length && this.cached.has(seq[hit]!)) this.cached.get(seq[hit++]!)!.lastUse = now;
    const toStore = seq.length - hit;
    const evicted: bigint[] = [];
    while (this.cached.size + toStore > this.capacity) evicted.push(this.evictOne(now));
    for (let i = hit; i < seq.length; i++) {
      const parent = i > 0 ? seq[i - 1]! : null;
      if (parent !== null) this.cached.get(parent)!.children++;
      this.cached.set(seq[i]!, { parent, children: 0, lastUse: now });
    }
    return {
      removed: evicted.length > 0 ? [{ blockHashes: evicted }] : [],
      stored:
        toStore > 0
          ? {
              parentHash: hit > 0 ? seq[hit - 1]! : null,
              blockHashes: seq.subarray(hit),
              tokenIds: tokens.slice(hit * bs),
              blockSize: bs,
            }
          : null,
    };
  }

  private evictOne(now: number): bigint {
    let victim: bigint | null = null;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [hash, block] of this.cached) {
      if (block.children === 0 && block.lastUse < now && block.lastUse < oldest) {
        oldest = block.lastUse;
        victim = hash;
      }
    }
    if (victim === null) throw new Error('test engine: nothing evictable; raise capacity');
    const block = this.cached.get(victim)!;
    if (block.parent !== null) this.cached.get(block.parent)!.children--;
    this.cached.delete(victim);
    return victim;
  }
}
