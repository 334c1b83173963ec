import { computeBlockHashes, computeSequenceHashes } from '@kvindex/core';
import { type EventShape, encodeVllmBatch, type VllmWireEvent } from '@kvindex/transport';

export const BENCH_BLOCK_SIZE = 16;
export const STORED_BLOCKS = 8;
export const REMOVED_BLOCKS = 2;

/**
 * `count` realistic vLLM batches: one BlockRemoved of 2 hashes and one BlockStored of 8 blocks ×
 * 16 tokens, full 64-bit sequence hashes (many above 2^63), deterministic content.
 */
export function benchPayloads(count: number, shape: EventShape, seed = 1): Buffer[] {
  const out: Buffer[] = [];
  let x = seed >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < count; i++) {
    const tokens = new Uint32Array(STORED_BLOCKS * BENCH_BLOCK_SIZE);
    for (let t = 0; t < tokens.length; t++) tokens[t] = rand() % 128_000;
    const hashes = computeSequenceHashes(computeBlockHashes(tokens, BENCH_BLOCK_SIZE));
    const events: VllmWireEvent[] = [
      { type: 'BlockRemoved', block_hashes: [BigInt(rand()) << 32n, BigInt(rand()) << 31n] },
      {
        type: 'BlockStored',
        block_hashes: hashes,
        parent_block_hash: BigInt(rand()) << 32n,
        token_ids: tokens,
        block_size: BENCH_BLOCK_SIZE,
      },
    ];
    out.push(encodeVllmBatch(events, { eventShape: shape, dpRank: 0 }));
  }
  return out;
}
