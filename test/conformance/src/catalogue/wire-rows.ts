import { computeBlockHashes, u64ToI64 } from '@kvindex/core';
import { packWire, seqFrame } from '../harness/wire-peer.ts';

/**
 * The ZMQ wire acceptance table of http-exchanges.md §2, as data. Each row is run on a fresh
 * instance (registered for model `wire`, block size 4, with a replay endpoint unless the row says
 * otherwise) against every service at once, all subscribed to the same test-side peer; then
 * `/query` reads `scores[N]` and `instances[N]`. Removal and clear rows follow a 2-block store.
 */

export const WIRE_MODEL = 'wire';
export const WIRE_BLOCK_SIZE = 4;

/** One thing the peer does, in order. */
export type WireStep =
  /** `lost`: never reaches subscribers (kept for replay unless `forgotten` too). */
  | { payload: unknown; seq?: bigint; lost?: boolean; forgotten?: boolean }
  | { rawPayload: Buffer; seq?: bigint }
  | { frames: Buffer[] };

export interface Outcome {
  /** `scores[N]` of the answer, or null when N is absent. */
  score: Record<string, number> | null;
  /** `instances[N]`, or null when absent. */
  instance: Record<string, unknown> | null;
}

export type WireQuery =
  | { tokens: number[]; lora_name?: string; cache_salt?: string }
  | { localHashes: readonly bigint[] };

export interface WireRow {
  name: string;
  steps: WireStep[];
  query?: WireQuery;
  /**
   * false: no sentinel store after the row (rows that reset seq numbers, where a sentinel at the
   * next seq would itself be dropped as stale); the answer is then read once it stops changing.
   */
  sentinel?: false;
  /** Register without a replay endpoint. */
  noReplay?: boolean;
  topic?: string;
  replyWithTopic?: boolean;
  /** Dynamo's recorded answer (doc §2); rows without one are held to Dynamo --threads 1's answer. */
  dynamo?: Outcome;
  /** The first replay start seq Dynamo asked for, as recorded. */
  dynamoReplayFrom?: bigint;
  /** kvindex's deliberate answer where it differs (DIFFERENCES.md names the difference). */
  kvindex?: { difference: string; outcome: Outcome };
}

const TS = 1_764_480_000.25;
const T8 = [1, 2, 3, 4, 5, 6, 7, 8];
const T12 = [...T8, 9, 10, 11, 12];

/** Device-tier outcome of `tokens` on dp rank `dp`. */
export function device(tokens: number, dp = '0'): Outcome {
  return {
    score: { [dp]: tokens },
    instance: { longest_matched: tokens, gpu: tokens, dp: { [dp]: tokens }, cpu: tokens, disk: tokens },
  };
}
export const NONE: Outcome = { score: null, instance: null };
const lower = (cpu: number, disk: number): Outcome => ({
  score: null,
  instance: { longest_matched: disk, gpu: 0, dp: { '0': 0 }, cpu, disk },
});

export function batch(events: unknown[], dpRank: number | null = null): unknown {
  return [TS, events, dpRank];
}

/** vLLM's BlockStored as a msgspec array, fields in wire order (§5.2), cut or padded to `length`. */
function storedArray(
  length: number,
  set: Record<number, unknown> = {},
  hashes: unknown[] = [1, 2],
  tokens = T8,
): unknown[] {
  const natural: unknown[] = [
    'BlockStored',
    hashes,
    null,
    tokens,
    WIRE_BLOCK_SIZE,
    null, // lora_id
    null, // medium
    null, // lora_name
    null, // extra_keys
    0, // group_idx
    'full_attention',
    null, // sliding_window
    'LOCAL',
    null, // ownership
  ];
  const out = natural.slice(0, length);
  while (out.length < length) out.push(null);
  for (const [pos, v] of Object.entries(set)) out[Number(pos)] = v;
  return out;
}

function storedMap(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'BlockStored',
    block_hashes: [1, 2],
    parent_block_hash: null,
    token_ids: T8,
    block_size: WIRE_BLOCK_SIZE,
    ...extra,
  };
}

const store2 = { payload: batch([storedArray(12)]) };
const afterStore = (event: unknown): WireStep[] => [store2, { payload: batch([event]) }];

/** A native vLLM multimodal hash (64 hex digits); kvindex reads its first 16 as the u64. */
const MM_HEX = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const MM_U64 = 0x9f86d081884c7d65n;
const mmAware = computeBlockHashes(T8, WIRE_BLOCK_SIZE, { mmHashes: new Map([[0, [MM_U64]]]) });

function lengthRows(): WireRow[] {
  const rows: WireRow[] = [
    {
      name: 'BlockStored array with 4 elements (incl. tag)',
      steps: [{ payload: batch([storedArray(4)]) }],
      dynamo: NONE,
    },
  ];
  for (let n = 5; n <= 12; n++) {
    rows.push({
      name: `BlockStored array with ${n} elements (incl. tag)`,
      steps: [{ payload: batch([storedArray(n)]) }],
      dynamo: device(8),
    });
  }
  return rows;
}

export const WIRE_ROWS: WireRow[] = [
  ...lengthRows(),
  {
    name: "BlockStored 12 elems kv_cache_spec_kind='sliding_window'",
    steps: [{ payload: batch([storedArray(12, { 10: 'sliding_window' })]) }],
    dynamo: NONE,
  },
  {
    name: "BlockStored 12 elems kv_cache_spec_kind='mamba'",
    steps: [{ payload: batch([storedArray(12, { 10: 'mamba' })]) }],
    dynamo: NONE,
  },
  {
    name: "BlockStored 12 elems kv_cache_spec_kind='bogus_kind'",
    steps: [{ payload: batch([storedArray(12, { 10: 'bogus_kind' })]) }],
    dynamo: NONE,
  },
  {
    name: 'BlockStored 12 elems group_idx=1',
    steps: [{ payload: batch([storedArray(12, { 9: 1 })]) }],
    dynamo: device(8),
    kvindex: { difference: 'non-main-kv-group', outcome: NONE },
  },
  {
    name: 'BlockStored 8 elems with lora_name',
    steps: [{ payload: batch([storedArray(8, { 7: 'my-lora' })]) }],
    query: { tokens: T8, lora_name: 'my-lora' },
    dynamo: device(8),
  },
  {
    name: 'BlockStored 8 elems with lora_name, query without lora',
    steps: [{ payload: batch([storedArray(8, { 7: 'my-lora' })]) }],
    dynamo: NONE,
  },
  {
    name: 'BlockStored lora_id only (no lora_name), query without lora',
    steps: [{ payload: batch([storedArray(8, { 5: 7 })]) }],
    dynamo: device(8),
  },
  { name: "medium='GPU'", steps: [{ payload: batch([storedArray(7, { 6: 'GPU' })]) }], dynamo: device(8) },
  { name: "medium='CPU'", steps: [{ payload: batch([storedArray(7, { 6: 'CPU' })]) }], dynamo: lower(8, 8) },
  {
    name: "medium='DISK'",
    steps: [{ payload: batch([storedArray(7, { 6: 'DISK' })]) }],
    dynamo: lower(0, 8),
  },
  {
    name: "medium='cpu'",
    steps: [{ payload: batch([storedArray(7, { 6: 'cpu' })]) }],
    dynamo: NONE,
    kvindex: { difference: 'medium-case-insensitive', outcome: lower(8, 8) },
  },
  {
    name: "medium='CPU_TIER1'",
    steps: [{ payload: batch([storedArray(7, { 6: 'CPU_TIER1' })]) }],
    dynamo: lower(8, 8),
  },
  { name: "medium='LMCACHE'", steps: [{ payload: batch([storedArray(7, { 6: 'LMCACHE' })]) }], dynamo: NONE },
  { name: "medium='FOO'", steps: [{ payload: batch([storedArray(7, { 6: 'FOO' })]) }], dynamo: NONE },
  { name: 'medium=None', steps: [{ payload: batch([storedArray(7, { 6: null })]) }], dynamo: device(8) },
  {
    name: 'hashes negative i64',
    steps: [{ payload: batch([storedArray(12, {}, [-5n, -6n])]) }],
    dynamo: device(8),
  },
  {
    name: 'hashes u64 > i64::MAX',
    steps: [{ payload: batch([storedArray(12, {}, [0xffff_ffff_ffff_fff0n, 0xffff_ffff_ffff_fff1n])]) }],
    dynamo: device(8),
  },
  {
    name: 'hashes bytes (32-byte sha256-like)',
    steps: [{ payload: batch([storedArray(12, {}, [bytesHash(32, 1), bytesHash(32, 2)])]) }],
    dynamo: NONE,
    kvindex: { difference: 'bytes-hashes', outcome: device(8) },
  },
  {
    name: 'hashes bytes 8-byte',
    steps: [{ payload: batch([storedArray(12, {}, [bytesHash(8, 1), bytesHash(8, 2)])]) }],
    dynamo: NONE,
    kvindex: { difference: 'bytes-hashes', outcome: device(8) },
  },
  { name: 'hashes as strings', steps: [{ payload: batch([storedArray(12, {}, ['1', '2'])]) }], dynamo: NONE },
  {
    name: 'event block_size != registered (8 vs 4)',
    steps: [{ payload: batch([storedArray(12, { 4: 8 }, [1])]) }],
    dynamo: NONE,
  },
  {
    name: 'tokens not multiple of block_size (10 tokens, 2 hashes)',
    steps: [{ payload: batch([storedArray(12, { 3: [...T8, 9, 10] })]) }],
    query: { tokens: T12 },
    // Recorded as 4 tokens from bytes we do not have; these bytes give 8 on both backends.
  },
  {
    name: 'more hashes than token blocks (3 hashes, 2 blocks)',
    steps: [{ payload: batch([storedArray(12, {}, [1, 2, 3])]) }],
    dynamo: device(8),
  },
  {
    name: 'fewer hashes than token blocks (1 hash, 2 blocks)',
    steps: [{ payload: batch([storedArray(12, {}, [1])]) }],
    dynamo: device(4),
  },
  {
    name: 'batch dp_rank=1 while registered dp 0',
    steps: [{ payload: batch([storedArray(12)], 1) }],
    dynamo: device(8, '1'),
  },
  { name: "non-empty topic b'kv-events'", topic: 'kv-events', steps: [store2], dynamo: device(8) },
  {
    name: 'map-shaped BlockStored event in array batch',
    steps: [{ payload: batch([storedMap({ lora_id: null, medium: 'GPU' })]) }],
    dynamo: device(8),
  },
  {
    name: 'map-shaped BlockStored minimal (no lora_id/medium)',
    steps: [{ payload: batch([storedMap()]) }],
    dynamo: device(8),
  },
  {
    name: 'map-shaped BlockStored with lora_name + cache_salt',
    steps: [{ payload: batch([storedMap({ lora_name: 'my-lora', cache_salt: 'salt1' })]) }],
    query: { tokens: T8, lora_name: 'my-lora', cache_salt: 'salt1' },
    dynamo: device(8),
  },
  {
    name: 'map-shaped batch {ts, events, data_parallel_rank}',
    steps: [{ payload: { ts: TS, events: [storedArray(12)], data_parallel_rank: null } }],
    dynamo: NONE,
    kvindex: { difference: 'map-and-2-element-batches', outcome: device(8) },
  },
  {
    name: 'batch with 2 elements [ts, events]',
    steps: [{ payload: [TS, [storedArray(12)]] }],
    dynamo: NONE,
    kvindex: { difference: 'map-and-2-element-batches', outcome: device(8) },
  },
  {
    name: '2-frame message [seq, payload]',
    steps: [{ frames: [seqFrame(0n), packWire(batch([storedArray(12)]))] }],
    dynamo: NONE,
  },
  {
    name: 'malformed msgpack then good batch',
    steps: [{ rawPayload: Buffer.from([0xc1, 0x00, 0x01]) }, store2],
    dynamo: device(8),
    dynamoReplayFrom: 0n,
  },
  {
    name: 'unknown event tag then BlockStored in same batch',
    steps: [{ payload: batch([['SomethingNew', [9]], storedArray(12)]) }],
    dynamo: NONE,
    kvindex: { difference: 'one-bad-event', outcome: device(8) },
  },
  {
    name: 'extra_keys with vLLM mm hash on block 0 (query plain tokens)',
    steps: [{ payload: batch([storedArray(12, { 8: [[MM_HEX], null] })]) }],
    dynamo: device(8),
    kvindex: { difference: 'native-mm-extra-keys', outcome: NONE },
  },
  {
    name: 'extra_keys with vLLM mm hash on block 0 (query mm-aware hashes)',
    steps: [{ payload: batch([storedArray(12, { 8: [[MM_HEX], null] })]) }],
    query: { localHashes: [...mmAware] },
    dynamo: NONE,
    kvindex: { difference: 'native-mm-extra-keys', outcome: device(8) },
  },
  {
    name: "BlockStored 13 elems locality='LOCAL'",
    steps: [{ payload: batch([storedArray(13, { 12: 'LOCAL' })]) }],
    dynamo: device(8),
  },
  {
    name: "BlockStored 13 elems locality='REMOTE'",
    steps: [{ payload: batch([storedArray(13, { 12: 'REMOTE' })]) }],
    dynamo: NONE,
  },
  {
    name: 'BlockStored 14 elems locality LOCAL, ownership None',
    steps: [{ payload: batch([storedArray(14, { 12: 'LOCAL', 13: null })]) }],
    dynamo: device(8),
  },
  {
    name: "BlockStored 14 elems ownership='kvcr'",
    steps: [{ payload: batch([storedArray(14, { 12: 'LOCAL', 13: 'kvcr' })]) }],
    dynamo: NONE,
  },
  {
    name: 'BlockStored 15 elems (+1 unknown None)',
    steps: [{ payload: batch([storedArray(15)]) }],
    dynamo: device(8),
  },
  {
    name: 'BlockStored 17 elems (+3 unknown)',
    steps: [{ payload: batch([storedArray(17)]) }],
    dynamo: device(8),
  },
  {
    name: 'BlockStored 12 elems group_idx=None kind=None',
    steps: [{ payload: batch([storedArray(12, { 9: null, 10: null })]) }],
    dynamo: device(8),
  },
  {
    name: 'mm extra_keys [[hex, 0]] (score = plain-token query)',
    steps: [{ payload: batch([storedArray(12, { 8: [[[MM_HEX, 0]], null] })]) }],
    dynamo: device(8),
    kvindex: { difference: 'native-mm-extra-keys', outcome: NONE },
  },
  {
    name: 'mm legacy trailing block_mm_infos (pos 9) (score = plain-token query)',
    steps: [
      {
        payload: batch([
          storedArray(10, { 9: [{ mm_objects: [{ mm_hash: MM_U64, offsets: [[0, 2]] }] }, null] }),
        ]),
      },
    ],
    dynamo: NONE,
  },
  {
    name: 'mm map-form block_mm_infos (score = plain-token query)',
    steps: [
      {
        payload: batch([
          storedMap({ block_mm_infos: [{ mm_objects: [{ mm_hash: MM_U64, offsets: [[0, 2]] }] }, null] }),
        ]),
      },
    ],
    dynamo: NONE,
  },
  {
    name: 'mm map-form block_mm_infos (query mm-aware hashes)',
    steps: [
      {
        payload: batch([
          storedMap({ block_mm_infos: [{ mm_objects: [{ mm_hash: MM_U64, offsets: [[0, 2]] }] }, null] }),
        ]),
      },
    ],
    query: { localHashes: [...mmAware] },
  },
  {
    name: 'mm map-form extra_keys (score = plain-token query)',
    steps: [{ payload: batch([storedMap({ extra_keys: [[MM_HEX], null] })]) }],
    dynamo: device(8),
    kvindex: { difference: 'native-mm-extra-keys', outcome: NONE },
  },
  {
    name: 'map-form cache_salt only; query with cache_salt',
    steps: [{ payload: batch([storedMap({ cache_salt: 'salt1' })]) }],
    query: { tokens: T8, cache_salt: 'salt1' },
    dynamo: device(8),
  },
  {
    name: 'eagle bigram token_ids [[a,b],...] (query plain tokens)',
    steps: [
      {
        payload: batch([
          storedArray(12, {
            3: [
              [1, 2],
              [2, 3],
              [3, 4],
              [4, 5],
              [5, 6],
              [6, 7],
              [7, 8],
              [8, 9],
            ],
          }),
        ]),
      },
    ],
    dynamo: NONE,
  },
  { name: 'BlockRemoved 2 elems', steps: afterStore(['BlockRemoved', [2]]), dynamo: device(4) },
  { name: 'BlockRemoved 3 elems', steps: afterStore(['BlockRemoved', [2], null]), dynamo: device(4) },
  { name: 'BlockRemoved 4 elems', steps: afterStore(['BlockRemoved', [2], null, 0]), dynamo: device(4) },
  {
    name: 'BlockRemoved 6 elems',
    steps: afterStore(['BlockRemoved', [2], null, 0, 'full_attention', null]),
    dynamo: device(4),
  },
  {
    name: "BlockRemoved 7 elems locality='REMOTE'",
    steps: afterStore(['BlockRemoved', [2], null, 0, 'full_attention', null, 'REMOTE']),
  },
  {
    name: "BlockRemoved 7 elems locality='LOCAL'",
    steps: afterStore(['BlockRemoved', [2], null, 0, 'full_attention', null, 'LOCAL']),
  },
  {
    name: 'BlockRemoved medium CPU for GPU block',
    steps: afterStore(['BlockRemoved', [2], 'CPU']),
    dynamo: device(8),
  },
  {
    name: 'map-shaped BlockRemoved',
    steps: afterStore({ type: 'BlockRemoved', block_hashes: [2] }),
    dynamo: device(4),
  },
  {
    name: 'BlockRemoved of an unknown block',
    steps: afterStore(['BlockRemoved', [77]]),
  },
  { name: 'AllBlocksCleared 1 elem', steps: afterStore(['AllBlocksCleared']), dynamo: NONE },
  { name: 'AllBlocksCleared 2 elems', steps: afterStore(['AllBlocksCleared', null]), dynamo: NONE },
  { name: 'map-shaped AllBlocksCleared', steps: afterStore({ type: 'AllBlocksCleared' }), dynamo: NONE },
  { name: 'Ignored event', steps: afterStore(['Ignored']) },
  {
    name: 'first message has seq 7',
    steps: [{ payload: batch([storedArray(12)]), seq: 7n }],
    dynamo: device(8),
    dynamoReplayFrom: 0n,
  },
  {
    name: 'seq 0 missed, seq 1 live (first message)',
    steps: [
      { payload: batch([storedArray(12, {}, [1], [1, 2, 3, 4])]), lost: true },
      { payload: batch([storedArray(12, { 2: 1 }, [2], [5, 6, 7, 8])]) },
    ],
    dynamo: device(8),
    dynamoReplayFrom: 0n,
  },
  {
    name: 'gap seq 0 -> 2 with replay',
    steps: chainOfThree({ lost: true }),
    query: { tokens: T12 },
    dynamo: device(12),
    dynamoReplayFrom: 1n,
  },
  {
    name: 'gap without replay data',
    steps: chainOfThree({ lost: 'forgotten' }),
    query: { tokens: T12 },
    dynamo: device(4),
    dynamoReplayFrom: 1n,
  },
  {
    name: 'gap with replay, replies with topic frame (vLLM #45177 form)',
    replyWithTopic: true,
    steps: chainOfThree({ lost: true }),
    query: { tokens: T12 },
    dynamo: device(12),
    dynamoReplayFrom: 1n,
  },
  {
    name: "gap with replay, topic b'kv', replies with topic frame",
    topic: 'kv',
    replyWithTopic: true,
    steps: chainOfThree({ lost: true }),
    query: { tokens: T12 },
    dynamo: device(12),
    dynamoReplayFrom: 1n,
  },
  {
    name: 'seq reset 0,1 then 0=AllBlocksCleared',
    sentinel: false,
    steps: [
      store2,
      { payload: batch([storedArray(12, { 2: 2 }, [3], [9, 10, 11, 12])]) },
      { payload: batch([['AllBlocksCleared']]), seq: 0n },
    ],
    query: { tokens: T12 },
    dynamo: device(12),
    kvindex: { difference: 'engine-restart', outcome: NONE },
  },
  {
    name: 'seq reset 0..4 then 0,1,2',
    sentinel: false,
    steps: [
      { payload: batch([storedArray(12, {}, [1], [1, 2, 3, 4])]) },
      { payload: batch([storedArray(12, { 2: 1 }, [2], [5, 6, 7, 8])]) },
      { payload: batch([['BlockRemoved', [2]]]) },
      { payload: batch([['Ignored']]) },
      { payload: batch([['Ignored']]) },
      // The engine restarts: a fresh process counts from 0 again and announces an empty cache.
      { payload: batch([['AllBlocksCleared']]), seq: 0n },
      { payload: batch([storedArray(12, {}, [11], [1, 2, 3, 4])]) },
      { payload: batch([storedArray(12, { 2: 11 }, [12], [5, 6, 7, 8])]) },
    ],
    dynamo: device(4),
    kvindex: { difference: 'engine-restart', outcome: device(8) },
  },
  {
    name: 'duplicate seq (removal at same seq)',
    sentinel: false,
    steps: [store2, { payload: batch([['BlockRemoved', [2]]]), seq: 0n }],
    dynamo: device(8),
    // A seq that does not increase is a restart for kvindex: the rank is cleared, then the
    // new stream (a removal of a block it no longer has) applied.
    kvindex: { difference: 'engine-restart', outcome: NONE },
  },
  {
    name: 'gap, no replay_endpoint registered',
    noReplay: true,
    steps: chainOfThree({ lost: true }),
    query: { tokens: T12 },
    dynamo: device(4),
  },
];

/** Three single-block stores 1 → 2 → 3 at seq 0, 1, 2; seq 1 never reaches the subscribers. */
function chainOfThree(options: { lost: true | 'forgotten' }): WireStep[] {
  const second = { payload: batch([storedArray(12, { 2: 1 }, [2], [5, 6, 7, 8])]) };
  return [
    { payload: batch([storedArray(12, {}, [1], [1, 2, 3, 4])]) },
    options.lost === 'forgotten' ? { ...second, lost: true, forgotten: true } : { ...second, lost: true },
    { payload: batch([storedArray(12, { 2: 2 }, [3], [9, 10, 11, 12])]) },
  ];
}

function bytesHash(length: number, value: number): Buffer {
  const b = Buffer.alloc(length);
  b.writeUInt32BE(value, length - 4);
  return b;
}

/** The query a row's answer is read with: token ids by default, else local hashes as i64. */
export function queryBody(row: WireRow): { path: string; body: Record<string, unknown> } {
  const q = row.query ?? { tokens: T8 };
  if ('localHashes' in q) {
    return {
      path: '/query_by_hash',
      body: { block_hashes: q.localHashes.map(u64ToI64), model_name: WIRE_MODEL },
    };
  }
  const body: Record<string, unknown> = { token_ids: q.tokens, model_name: WIRE_MODEL };
  if (q.lora_name !== undefined) body.lora_name = q.lora_name;
  if (q.cache_salt !== undefined) body.cache_salt = q.cache_salt;
  return { path: '/query', body };
}
