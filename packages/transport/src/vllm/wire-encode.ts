import { Packr } from 'msgpackr';

/** One vLLM KV event as an engine emits it (field names as vLLM's msgspec structs). */
export type VllmWireEvent =
  | {
      type: 'BlockStored';
      block_hashes: ArrayLike<bigint>;
      parent_block_hash: bigint | null;
      token_ids: ArrayLike<number>;
      block_size: number;
      lora_id?: number | null;
      medium?: string | null;
      lora_name?: string | null;
      extra_keys?: unknown[] | null;
      group_idx?: number | null;
      kv_cache_spec_kind?: string | null;
      kv_cache_spec_sliding_window?: number | null;
      /** Map form only (as in Dynamo's reader). */
      cache_salt?: string | null;
    }
  | {
      type: 'BlockRemoved';
      block_hashes: ArrayLike<bigint>;
      medium?: string | null;
      group_idx?: number | null;
    }
  | { type: 'AllBlocksCleared' }
  | { type: 'Ignored' };

/**
 * `array`: vLLM ≤ 0.23's msgspec tagged tuples; `map`: vLLM ≥ 0.26's `{"type": …}` maps.
 */
export type EventShape = 'array' | 'map';
/** `vllm`: `[ts, events, dp_rank]`; `sglang`: `[ts, events]`; `map`: `{ts, events, data_parallel_rank}`. */
export type BatchShape = 'vllm' | 'sglang' | 'map';
/** How block hashes go on the wire: u64 ints, i64 ints (two's complement), or 32 bytes (sha256 modes). */
export type HashEncoding = 'u64' | 'i64' | 'bytes';

export interface EncodeOptions {
  eventShape?: EventShape;
  batchShape?: BatchShape;
  hashEncoding?: HashEncoding;
  dpRank?: number | null;
  ts?: number;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

function hashValue(h: bigint, encoding: HashEncoding): unknown {
  switch (encoding) {
    case 'u64':
      // Python writes the smallest integer format; small values must not become 9-byte ints.
      return h <= 0xffff_ffffn ? Number(h) : h;
    case 'i64':
      return BigInt.asIntN(64, h);
    case 'bytes': {
      const out = Buffer.alloc(32);
      out.writeBigUInt64BE(BigInt.asUintN(64, h), 24);
      return out;
    }
  }
}

function hashList(hashes: ArrayLike<bigint>, encoding: HashEncoding): unknown[] {
  const out = new Array<unknown>(hashes.length);
  for (let i = 0; i < hashes.length; i++) out[i] = hashValue(hashes[i]!, encoding);
  return out;
}

function eventValue(e: VllmWireEvent, shape: EventShape, encoding: HashEncoding): unknown {
  switch (e.type) {
    case 'BlockStored': {
      const hashes = hashList(e.block_hashes, encoding);
      const parent = e.parent_block_hash === null ? null : hashValue(e.parent_block_hash, encoding);
      const tokens = Array.from(e.token_ids);
      if (shape === 'map') {
        const m: Record<string, unknown> = {
          type: e.type,
          block_hashes: hashes,
          parent_block_hash: parent,
          token_ids: tokens,
          block_size: e.block_size,
        };
        if (e.lora_id !== undefined) m.lora_id = e.lora_id;
        if (e.medium !== undefined) m.medium = e.medium;
        if (e.lora_name !== undefined) m.lora_name = e.lora_name;
        if (e.extra_keys !== undefined) m.extra_keys = e.extra_keys;
        if (e.cache_salt !== undefined) m.cache_salt = e.cache_salt;
        if (e.group_idx !== undefined) m.group_idx = e.group_idx;
        if (e.kv_cache_spec_kind !== undefined) m.kv_cache_spec_kind = e.kv_cache_spec_kind;
        if (e.kv_cache_spec_sliding_window !== undefined) {
          m.kv_cache_spec_sliding_window = e.kv_cache_spec_sliding_window;
        }
        return m;
      }
      return [
        e.type,
        hashes,
        parent,
        tokens,
        e.block_size,
        e.lora_id ?? null,
        e.medium ?? null,
        e.lora_name ?? null,
        e.extra_keys ?? null,
        e.group_idx ?? 0,
        e.kv_cache_spec_kind ?? 'full_attention',
        e.kv_cache_spec_sliding_window ?? null,
      ];
    }
    case 'BlockRemoved': {
      const hashes = hashList(e.block_hashes, encoding);
      if (shape === 'map') {
        const m: Record<string, unknown> = { type: e.type, block_hashes: hashes };
        if (e.medium !== undefined) m.medium = e.medium;
        if (e.group_idx !== undefined) m.group_idx = e.group_idx;
        return m;
      }
      return [e.type, hashes, e.medium ?? null, e.group_idx ?? 0];
    }
    case 'AllBlocksCleared':
    case 'Ignored':
      return shape === 'map' ? { type: e.type } : [e.type];
  }
}

/** Encodes one KV event batch payload as vLLM or SGLang put it on the wire. */
export function encodeVllmBatch(events: readonly VllmWireEvent[], options: EncodeOptions = {}): Buffer {
  const shape = options.eventShape ?? 'array';
  const encoding = options.hashEncoding ?? 'u64';
  const ts = options.ts ?? Date.now() / 1000;
  const wire = events.map((e) => eventValue(e, shape, encoding));
  const dp = options.dpRank ?? null;
  switch (options.batchShape ?? 'vllm') {
    case 'vllm':
      return packr.pack([ts, wire, dp]);
    case 'sglang':
      return packr.pack([ts, wire]);
    case 'map':
      return packr.pack({ ts, events: wire, data_parallel_rank: dp });
  }
}

/** Encodes any value with the same packer (for tests that need deliberately wrong shapes). */
export function packWireValue(value: unknown): Buffer {
  return packr.pack(value);
}
