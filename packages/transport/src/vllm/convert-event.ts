import {
  blockCount,
  computeBlockHashes,
  DecodeError,
  describe,
  type MmExtraInfo,
  type RouterEvent,
  readArray,
  readHash,
  readObject,
  readU32,
  type StorageTier,
  type StoredBlock,
  toTokenArray,
} from '@kvindex/core';
import type { EventDropReason } from '../stats.ts';
import { readWireHash, readWireHashes } from './hash-value.ts';
import { tierFromMedium } from './medium.ts';

/** Where a converted event belongs: the batch's seq becomes every event's `event_id`. */
export interface EventContext {
  workerId: bigint;
  dpRank: number;
  eventId: bigint;
  /** The model's block size; events with another block size are dropped. */
  blockSize: number;
  /**
   * The cache salt a parent block was stored with: vLLM sends the salt only with a request's first
   * block, so a store that continues a salted chain inherits it (as Dynamo does per listener).
   */
  saltOfParent?: (parentHash: bigint) => string | undefined;
}

/** The result of converting one wire event: an event to apply, or why it was dropped. */
export type Converted =
  | { ok: true; event: RouterEvent; blocks: number; truncated: boolean; cacheSalt?: string | null }
  | { ok: false; reason: EventDropReason; detail?: string };

const MAIN_ATTENTION_KINDS = new Set(['full_attention', 'mla_attention', 'sink_full_attention']);
const CACHE_SALT_PREFIX = 'dynamo-cache-salt:';
const HEX64 = /^[0-9a-fA-F]{64}$/;

/** Wire fields of one event, read by name (map form) or by position (msgspec array form). */
interface EventFields {
  tag: unknown;
  get(name: string): unknown;
}

/** Positions of the array form (vLLM's msgspec `array_like=True`), see §5.2 of the reference. */
const STORED_POSITIONS: Record<string, number> = {
  block_hashes: 1,
  parent_block_hash: 2,
  token_ids: 3,
  block_size: 4,
  medium: 6,
  lora_name: 7,
  extra_keys: 8,
};
const REMOVED_POSITIONS: Record<string, number> = { block_hashes: 1, medium: 2 };

function fieldsOf(raw: unknown): EventFields {
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw new DecodeError('event', 'empty array, expected a tagged event');
    const tag = raw[0];
    if (tag === 'BlockStored') {
      const trailing = readTrailing(raw, 9, 13);
      return {
        tag,
        get: (name) => {
          const pos = STORED_POSITIONS[name];
          return pos === undefined ? trailing[name] : raw[pos];
        },
      };
    }
    if (tag === 'BlockRemoved') {
      const trailing = readTrailing(raw, 3, 7);
      return {
        tag,
        get: (name) => {
          const pos = REMOVED_POSITIONS[name];
          return pos === undefined ? trailing[name] : raw[pos];
        },
      };
    }
    if (tag === 'AllBlocksCleared')
      return { tag, get: (name) => (name === 'ownership' ? raw[1] : undefined) };
    return { tag, get: () => undefined };
  }
  const o = readObject(raw, 'event');
  return { tag: o.type, get: (name) => o[name] };
}

/**
 * The metadata after the fixed fields: `group_idx, kind, sliding_window, locality, ownership`.
 * When at least four trailing values fit that layout it applies as is; older tuples appended
 * metadata opportunistically, so otherwise the first int is group_idx, the second the window, a
 * string the kind and an array legacy `block_mm_infos` (Dynamo's reading, §5.2).
 */
function readTrailing(raw: unknown[], start: number, ownershipPos: number): Record<string, unknown> {
  const count = raw.length - start;
  const out: Record<string, unknown> = {};
  if (count <= 0) return out;
  const isUint = (v: unknown) =>
    v === null || v === undefined || typeof v === 'number' || typeof v === 'bigint';
  const isText = (v: unknown) => v === null || v === undefined || typeof v === 'string';
  if (
    count >= 4 &&
    isUint(raw[start]) &&
    isText(raw[start + 1]) &&
    isUint(raw[start + 2]) &&
    isText(raw[start + 3])
  ) {
    out.group_idx = raw[start];
    out.kv_cache_spec_kind = raw[start + 1];
    out.kv_cache_spec_sliding_window = raw[start + 2];
    out.locality = raw[start + 3];
    out.ownership = raw[ownershipPos];
    return out;
  }
  for (let i = start; i < raw.length && i < start + 5; i++) {
    const v = raw[i];
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (out.group_idx === undefined) out.group_idx = v;
      else if (out.kv_cache_spec_sliding_window === undefined) out.kv_cache_spec_sliding_window = v;
    } else if (typeof v === 'string') out.kv_cache_spec_kind = v;
    else if (Array.isArray(v)) out.block_mm_infos = v;
  }
  return out;
}

/**
 * Converts one vLLM/SGLang wire event into a RouterEvent, or says why it is dropped. A malformed
 * event is dropped alone (Dynamo 1.6.1 drops the whole batch).
 */
export function convertWireEvent(raw: unknown, ctx: EventContext): Converted {
  let f: EventFields;
  try {
    f = fieldsOf(raw);
  } catch (err) {
    return { ok: false, reason: 'event_shape', detail: (err as Error).message };
  }
  const { tag } = f;
  if (tag !== 'BlockStored' && tag !== 'BlockRemoved' && tag !== 'AllBlocksCleared') {
    if (tag === 'Ignored') return { ok: false, reason: 'ignored_tag' };
    return {
      ok: false,
      reason: typeof tag === 'string' ? 'unknown_tag' : 'event_shape',
      detail: describe(tag),
    };
  }
  try {
    const filtered = filterReason(f);
    if (filtered) return { ok: false, reason: filtered };
    if (tag === 'AllBlocksCleared') {
      return {
        ok: true,
        blocks: 0,
        truncated: false,
        event: routerEvent(ctx, 'device', 'cleared'),
      };
    }
    const tier = tierFromMedium(f.get('medium'));
    if (tier === null) return { ok: false, reason: 'unknown_medium', detail: describe(f.get('medium')) };
    if (tag === 'BlockRemoved') {
      const hashes = readWireHashes(f.get('block_hashes'), 'block_hashes');
      return {
        ok: true,
        blocks: hashes.length,
        truncated: false,
        event: routerEvent(ctx, tier, { removed: { block_hashes: hashes } }),
      };
    }
    return convertStored(f, ctx, tier);
  } catch (err) {
    if (err instanceof DecodeError || err instanceof RangeError) {
      return { ok: false, reason: 'event_shape', detail: err.message };
    }
    throw err;
  }
}

function filterReason(f: EventFields): EventDropReason | null {
  const group = f.get('group_idx');
  if (group !== undefined && group !== null && readU32(group, 'group_idx') !== 0) return 'non_zero_group';
  const kind = f.get('kv_cache_spec_kind');
  if (kind !== undefined && kind !== null && !(typeof kind === 'string' && MAIN_ATTENTION_KINDS.has(kind))) {
    return 'non_main_kind';
  }
  const locality = f.get('locality');
  if (
    locality !== undefined &&
    locality !== null &&
    !(typeof locality === 'string' && locality.toUpperCase() === 'LOCAL')
  ) {
    return 'non_local';
  }
  const ownership = f.get('ownership');
  if (ownership !== undefined && ownership !== null) return 'foreign_ownership';
  return null;
}

function routerEvent(ctx: EventContext, tier: StorageTier, data: RouterEvent['event']['data']): RouterEvent {
  return {
    worker_id: ctx.workerId,
    storage_tier: tier,
    event: { event_id: ctx.eventId, data, dp_rank: ctx.dpRank },
  };
}

function convertStored(f: EventFields, ctx: EventContext, tier: StorageTier): Converted {
  const blockSize = readU32(f.get('block_size'), 'block_size');
  if (blockSize !== ctx.blockSize) {
    return { ok: false, reason: 'block_size_mismatch', detail: `${blockSize} != ${ctx.blockSize}` };
  }
  const hashes = readWireHashes(f.get('block_hashes'), 'block_hashes');
  const parentRaw = f.get('parent_block_hash');
  const parent =
    parentRaw === undefined || parentRaw === null ? null : readWireHash(parentRaw, 'parent_block_hash');
  const duplicate = firstDuplicate(hashes, parent);
  if (duplicate !== null) return { ok: false, reason: 'duplicate_hash', detail: String(duplicate) };

  const { tokens, eagle } = readTokenIds(f.get('token_ids'));
  let loraName = optionalString(f.get('lora_name'), 'lora_name');
  let cacheSalt = optionalString(f.get('cache_salt'), 'cache_salt');
  // SGLang's array form puts a `{cache_salt}` map where vLLM has lora_name.
  const pos7 = f.get('lora_name');
  if (pos7 !== null && typeof pos7 === 'object' && !Array.isArray(pos7) && !(pos7 instanceof Uint8Array)) {
    loraName = null;
    cacheSalt ??= optionalString((pos7 as Record<string, unknown>).cache_salt, 'lora_name.cache_salt');
  }
  const extraKeys = f.get('extra_keys');
  const extra = extraKeys === undefined || extraKeys === null ? null : readExtraKeys(extraKeys, loraName);
  cacheSalt ??= extra?.cacheSalt ?? null;
  if (cacheSalt === null && parent !== null) cacheSalt = ctx.saltOfParent?.(parent) ?? null;
  const mmInfosRaw = f.get('block_mm_infos');
  const mmInfos =
    mmInfosRaw === undefined || mmInfosRaw === null ? (extra?.mmInfos ?? null) : readBlockMmInfos(mmInfosRaw);

  const full = blockCount(tokens.length, blockSize, eagle);
  const count = Math.min(full, hashes.length);
  if (count === 0) return { ok: false, reason: 'empty_store' };
  let mmHashes: Map<number, bigint[]> | null = null;
  if (mmInfos) {
    for (let b = 0; b < count; b++) {
      const info = mmInfos[b];
      if (info && info.mm_objects.length > 0) {
        mmHashes ??= new Map();
        mmHashes.set(
          b,
          info.mm_objects.map((o) => o.mm_hash),
        );
      }
    }
  }
  const usedTokens = eagle
    ? tokens.subarray(0, count * blockSize + 1)
    : tokens.subarray(0, count * blockSize);
  const tokensHashes = computeBlockHashes(usedTokens, blockSize, { loraName, cacheSalt, mmHashes, eagle });
  const blocks = new Array<StoredBlock>(count);
  for (let i = 0; i < count; i++) {
    const block: StoredBlock = { block_hash: hashes[i]!, tokens_hash: tokensHashes[i]! };
    const info = mmInfos?.[i];
    if (info && info.mm_objects.length > 0) block.mm_extra_info = info;
    blocks[i] = block;
  }
  return {
    ok: true,
    blocks: count,
    truncated: hashes.length > count,
    cacheSalt,
    event: routerEvent(ctx, tier, { stored: { parent_hash: parent, blocks } }),
  };
}

/** A hash that repeats within a store (parent included): Dynamo refuses such self-references. */
function firstDuplicate(hashes: readonly bigint[], parent: bigint | null): bigint | null {
  if (hashes.length > 32) {
    const seen = new Set<bigint>(parent === null ? [] : [parent]);
    for (const h of hashes) {
      if (seen.has(h)) return h;
      seen.add(h);
    }
    return null;
  }
  // Typical stores are a few blocks: comparing pairs beats hashing BigInts into a Set.
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i]!;
    if (h === parent) return h;
    for (let j = 0; j < i; j++) if (hashes[j] === h) return h;
  }
  return null;
}

/** Token ids, or EAGLE bigram pairs `[[a, b], …]` which flatten to firsts plus the last second. */
function readTokenIds(value: unknown): { tokens: Uint32Array; eagle: boolean } {
  if (value instanceof Uint32Array) return { tokens: value, eagle: false };
  const list = readArray(value, 'token_ids');
  if (list.length > 0 && Array.isArray(list[0])) {
    const out = new Uint32Array(list.length + 1);
    for (let i = 0; i < list.length; i++) {
      const pair = list[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new DecodeError(`token_ids[${i}]`, `expected a [u32, u32] pair, got ${describe(pair)}`);
      }
      out[i] = readU32(pair[0], `token_ids[${i}][0]`);
      if (i === list.length - 1) out[i + 1] = readU32(pair[1], `token_ids[${i}][1]`);
    }
    return { tokens: out, eagle: true };
  }
  return { tokens: toTokenArray(list as number[]), eagle: false };
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && field === 'lora_name') return null;
  throw new DecodeError(field, `expected a string, got ${describe(value)}`);
}

/**
 * vLLM's `extra_keys`: one entry per block, nil or a list of keys. 64-hex-digit strings (and
 * `[id, offset]` pairs with such an id) are multimodal hashes, of which the first 16 hex digits
 * are the u64 hash; Dynamo 1.6.1 only reads its own zero-padded marker form of them. A
 * `dynamo-cache-salt:` key in the first block carries the cache salt. Other keys are ignored.
 */
function readExtraKeys(
  value: unknown,
  loraName: string | null,
): { mmInfos: (MmExtraInfo | null)[] | null; cacheSalt: string | null } {
  const perBlock = readArray(value, 'extra_keys');
  let cacheSalt: string | null = null;
  let mmInfos: (MmExtraInfo | null)[] | null = null;
  for (let b = 0; b < perBlock.length; b++) {
    const keys = perBlock[b];
    if (keys === null || keys === undefined) continue;
    if (!Array.isArray(keys)) continue;
    let skipLora = loraName !== null && loraName !== '';
    for (const key of keys) {
      const id =
        typeof key === 'string' ? key : Array.isArray(key) && typeof key[0] === 'string' ? key[0] : null;
      if (id === null) continue;
      if (typeof key === 'string') {
        if (skipLora && key === loraName) {
          skipLora = false;
          continue;
        }
        if (
          b === 0 &&
          cacheSalt === null &&
          key.startsWith(CACHE_SALT_PREFIX) &&
          key.length > CACHE_SALT_PREFIX.length
        ) {
          cacheSalt = key.slice(CACHE_SALT_PREFIX.length);
          continue;
        }
      }
      if (HEX64.test(id)) {
        mmInfos ??= [];
        while (mmInfos.length <= b) mmInfos.push(null);
        let info = mmInfos[b];
        if (!info) {
          info = { mm_objects: [] };
          mmInfos[b] = info;
        }
        info.mm_objects.push({ mm_hash: BigInt(`0x${id.slice(0, 16)}`), offsets: [] });
      }
    }
  }
  return { mmInfos, cacheSalt };
}

/** Dynamo's `block_mm_infos`: per block nil or `{mm_objects: [{mm_hash, offsets}]}`. */
function readBlockMmInfos(value: unknown): (MmExtraInfo | null)[] {
  return readArray(value, 'block_mm_infos').map((info, b) => {
    if (info === null || info === undefined) return null;
    const o = readObject(info, `block_mm_infos[${b}]`);
    return {
      mm_objects: readArray(o.mm_objects, `block_mm_infos[${b}].mm_objects`).map((m, i) => {
        const at = `block_mm_infos[${b}].mm_objects[${i}]`;
        const mo = readObject(m, at);
        const offsets =
          mo.offsets === undefined || mo.offsets === null ? [] : readArray(mo.offsets, `${at}.offsets`);
        return {
          mm_hash: readHash(mo.mm_hash, `${at}.mm_hash`),
          offsets: offsets.map((pair, j) =>
            readArray(pair, `${at}.offsets[${j}]`).map((x, k) => readU32(x, `${at}.offsets[${j}][${k}]`)),
          ),
        };
      }),
    };
  });
}
