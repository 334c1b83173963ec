import { computeBlockHashes, computeSequenceHashes } from '@kvindex/core';
import { expandTokens, type TraceRequest } from './trace.ts';
import { u64Words } from './u64-slot-table.ts';

/** A trace request turned into what engines and the index see: tokens and Dynamo's hashes per full block. */
export interface SimRequest {
  /** 0-based position in the replay. */
  index: number;
  trace: TraceRequest;
  tokens: Uint32Array;
  blockSize: number;
  /** Dynamo LocalBlockHash per full block: what the index is queried with and the events' tokens_hash. */
  localHashes: BigUint64Array;
  /** Dynamo SequenceHash per full block: the block's identity in every engine's pool. */
  sequenceHashes: BigUint64Array;
  /** `sequenceHashes` as u32 halves (a view): pools look blocks up without making BigInts. */
  sequenceWords: Uint32Array;
}

export function prepareRequest(trace: TraceRequest, blockSize: number, index: number): SimRequest {
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
    throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
  }
  const tokens = expandTokens(trace);
  const localHashes = computeBlockHashes(tokens, blockSize);
  const sequenceHashes = computeSequenceHashes(localHashes);
  return {
    index,
    trace,
    tokens,
    blockSize,
    localHashes,
    sequenceHashes,
    sequenceWords: u64Words(sequenceHashes),
  };
}
