import {
  type KvCacheEvent,
  type KvCacheEventData,
  type MmExtraInfo,
  type RouterEvent,
  STORAGE_TIERS,
  type StorageTier,
  type StoredBlock,
} from '../events/router-event.ts';
import { DecodeError, describe } from './decode-error.ts';
import {
  readArray,
  readHash,
  readObject,
  readOptionalHash,
  readString,
  readU32,
  readU64,
} from './read-value.ts';

/**
 * Converts a decoded value (JSON or msgpack, Dynamo's serde shape) into a RouterEvent. Unknown
 * fields are ignored as serde does; anything missing, mistyped or out of range is a DecodeError.
 */
export function routerEventFromValue(value: unknown, field = ''): RouterEvent {
  const o = readObject(value, field);
  const at = (name: string) => (field ? `${field}.${name}` : name);
  const event: RouterEvent = {
    worker_id: readU64(o.worker_id, at('worker_id')),
    storage_tier: readTier(o.storage_tier, at('storage_tier')),
    event: kvCacheEventFromValue(o.event, at('event')),
  };
  if (o.residency_domain !== undefined && o.residency_domain !== null) {
    event.residency_domain = readString(o.residency_domain, at('residency_domain'));
  }
  return event;
}

function readTier(value: unknown, field: string): StorageTier {
  if (value === undefined || value === null) return 'device';
  if (typeof value === 'string' && (STORAGE_TIERS as readonly string[]).includes(value)) {
    return value as StorageTier;
  }
  throw new DecodeError(field, `expected one of ${STORAGE_TIERS.join(', ')}, got ${describe(value)}`);
}

export function kvCacheEventFromValue(value: unknown, field: string): KvCacheEvent {
  const o = readObject(value, field);
  return {
    event_id: readU64(o.event_id, `${field}.event_id`),
    data: eventDataFromValue(o.data, `${field}.data`),
    dp_rank: o.dp_rank === undefined || o.dp_rank === null ? 0 : readU32(o.dp_rank, `${field}.dp_rank`),
  };
}

function eventDataFromValue(value: unknown, field: string): KvCacheEventData {
  if (value === 'cleared') return 'cleared';
  if (typeof value === 'string') {
    throw new DecodeError(field, `unknown variant ${describe(value)}, expected stored, removed or cleared`);
  }
  const o = readObject(value, field);
  const keys = Object.keys(o);
  if (keys.length !== 1) {
    throw new DecodeError(
      field,
      `expected exactly one variant of stored, removed or cleared, got ${keys.length} keys`,
    );
  }
  const variant = keys[0]!;
  const body = o[variant];
  switch (variant) {
    case 'cleared':
      if (body !== null && body !== undefined) throw new DecodeError(`${field}.cleared`, 'expected null');
      return 'cleared';
    case 'stored': {
      const s = readObject(body, `${field}.stored`);
      const blocks = readArray(s.blocks, `${field}.stored.blocks`).map((b, i) =>
        storedBlockFromValue(b, `${field}.stored.blocks[${i}]`),
      );
      const stored: { parent_hash: bigint | null; start_position?: number | null; blocks: StoredBlock[] } = {
        parent_hash: readOptionalHash(s.parent_hash, `${field}.stored.parent_hash`),
        blocks,
      };
      if (s.start_position !== undefined) {
        stored.start_position =
          s.start_position === null ? null : readU32(s.start_position, `${field}.stored.start_position`);
      }
      return { stored };
    }
    case 'removed': {
      const r = readObject(body, `${field}.removed`);
      const hashes = readArray(r.block_hashes, `${field}.removed.block_hashes`).map((h, i) =>
        readHash(h, `${field}.removed.block_hashes[${i}]`),
      );
      return { removed: { block_hashes: hashes } };
    }
    default:
      throw new DecodeError(
        field,
        `unknown variant ${JSON.stringify(variant)}, expected stored, removed or cleared`,
      );
  }
}

function storedBlockFromValue(value: unknown, field: string): StoredBlock {
  const o = readObject(value, field);
  const block: StoredBlock = {
    block_hash: readHash(o.block_hash, `${field}.block_hash`),
    tokens_hash: readHash(o.tokens_hash, `${field}.tokens_hash`),
  };
  if (o.mm_extra_info !== undefined) {
    block.mm_extra_info =
      o.mm_extra_info === null ? null : mmExtraInfoFromValue(o.mm_extra_info, `${field}.mm_extra_info`);
  }
  return block;
}

function mmExtraInfoFromValue(value: unknown, field: string): MmExtraInfo {
  const o = readObject(value, field);
  return {
    mm_objects: readArray(o.mm_objects, `${field}.mm_objects`).map((m, i) => {
      const at = `${field}.mm_objects[${i}]`;
      const mo = readObject(m, at);
      return {
        mm_hash: readHash(mo.mm_hash, `${at}.mm_hash`),
        offsets: readArray(mo.offsets ?? [], `${at}.offsets`).map((pair, j) =>
          readArray(pair, `${at}.offsets[${j}]`).map((x, k) => readU32(x, `${at}.offsets[${j}][${k}]`)),
        ),
      };
    }),
  };
}

/**
 * The canonical wire value of an event: Dynamo's serde field order, optional fields written as
 * Dynamo writes them (`start_position` and `mm_extra_info` null, `residency_domain` omitted when absent).
 */
export function routerEventToValue(event: RouterEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { worker_id: event.worker_id, storage_tier: event.storage_tier };
  if (event.residency_domain !== undefined) out.residency_domain = event.residency_domain;
  const { data } = event.event;
  let wireData: unknown;
  if (data === 'cleared') wireData = 'cleared';
  else if ('stored' in data) {
    wireData = {
      stored: {
        parent_hash: data.stored.parent_hash,
        start_position: data.stored.start_position ?? null,
        blocks: data.stored.blocks.map((b) => ({
          block_hash: b.block_hash,
          tokens_hash: b.tokens_hash,
          mm_extra_info: b.mm_extra_info ?? null,
        })),
      },
    };
  } else wireData = { removed: { block_hashes: data.removed.block_hashes } };
  out.event = { event_id: event.event.event_id, data: wireData, dp_rank: event.event.dp_rank };
  return out;
}
