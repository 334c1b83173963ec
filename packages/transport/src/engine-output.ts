import type { VllmWireEvent } from './vllm/wire-encode.ts';

/**
 * What a (simulated) engine did for one request, structurally: the simulator's `EngineOutput`
 * fits without transport depending on the simulator.
 */
export interface EngineOutputLike {
  removed: readonly { blockHashes: ArrayLike<bigint> }[];
  stored: {
    parentHash: bigint | null;
    blockHashes: ArrayLike<bigint>;
    /** The stored blocks' tokens, blockSize per block. */
    tokenIds: ArrayLike<number>;
    blockSize: number;
  } | null;
}

export interface WireEventOptions {
  /** vLLM's `medium` for the events (absent means GPU). */
  medium?: string | null;
  loraName?: string | null;
}

/** One engine output as the vLLM events it would publish in one batch: removals, then the store. */
export function engineOutputToWireEvents(
  output: EngineOutputLike,
  options: WireEventOptions = {},
): VllmWireEvent[] {
  const events: VllmWireEvent[] = [];
  for (const r of output.removed) {
    if (r.blockHashes.length === 0) continue;
    const e: VllmWireEvent = { type: 'BlockRemoved', block_hashes: r.blockHashes };
    if (options.medium !== undefined) e.medium = options.medium;
    events.push(e);
  }
  const s = output.stored;
  if (s && s.blockHashes.length > 0) {
    const e: VllmWireEvent = {
      type: 'BlockStored',
      block_hashes: s.blockHashes,
      parent_block_hash: s.parentHash,
      token_ids: s.tokenIds,
      block_size: s.blockSize,
    };
    if (options.medium !== undefined) e.medium = options.medium;
    if (options.loraName !== undefined) e.lora_name = options.loraName;
    events.push(e);
  }
  return events;
}
