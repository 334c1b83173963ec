import { xxh3_64 } from '@kvindex/core';

/**
 * How engines name their blocks on the wire.
 * - `shared`: every engine uses Dynamo's sequence hashes, as vLLM does with a fixed PYTHONHASHSEED.
 * - `per-engine`: every engine (worker, dp rank) hashes with its own seed, as vLLM does by default,
 *   so the same tokens get a different block hash on every engine.
 */
export type EngineHashMode = 'shared' | 'per-engine';

export const ENGINE_HASH_MODES: readonly EngineHashMode[] = ['shared', 'per-engine'];

const scratch = new BigUint64Array(3);
const scratchBytes = new Uint8Array(scratch.buffer);

/** A stable seed per (simulation seed, worker, dp rank), distinct across engines. */
export function engineHashSeed(seed: bigint, workerId: bigint, dpRank: number): bigint {
  scratch[0] = BigInt.asUintN(64, seed);
  scratch[1] = BigInt.asUintN(64, workerId);
  scratch[2] = BigInt(dpRank);
  return xxh3_64(scratchBytes, 0x5eed_e691_4e00_0001n);
}

const pair = new BigUint64Array(2);
const pairBytes = new Uint8Array(pair.buffer);

/**
 * A per-engine block hash chained like vLLM's: XXH3-64 of (parent's engine hash, or 0 at the root,
 * then the block's LocalBlockHash), seeded with the engine's seed.
 */
export function perEngineBlockHash(engineSeed: bigint, parentHash: bigint | null, localHash: bigint): bigint {
  pair[0] = parentHash ?? 0n;
  pair[1] = localHash;
  return xxh3_64(pairBytes, engineSeed);
}
