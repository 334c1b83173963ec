import { computeBlockHashes, isStored, type RouterEvent } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { newIngestStats } from '../stats.ts';
import { VllmBatchDecoder } from './batch-decoder.ts';
import { encodeVllmBatch, packWireValue, type VllmWireEvent } from './wire-encode.ts';

// Values measured on Dynamo 1.6.1 (docs/reference/dynamo-1.6.1/README.md §2).
const LOCAL_1_4 = 14643705804678351452n;
const LOCAL_5_8 = 16777012769546811212n;
const SALTED = [11714000504852504320n, 5888482415524602018n];
const SALTED_LORA = [2497289401815760574n, 8880113332426591141n];
const EAGLE_1_9 = [1914873892905420881n, 1929047464662796003n];

function decoder(blockSize = 4, dpRank = 0) {
  const stats = newIngestStats();
  return { stats, d: new VllmBatchDecoder({ workerId: 7n, dpRank, blockSize, stats }) };
}

function stored(overrides: Partial<Extract<VllmWireEvent, { type: 'BlockStored' }>> = {}): VllmWireEvent {
  return {
    type: 'BlockStored',
    block_hashes: [101n, 102n],
    parent_block_hash: null,
    token_ids: [1, 2, 3, 4, 5, 6, 7, 8],
    block_size: 4,
    ...overrides,
  };
}

function storedBlocks(e: RouterEvent) {
  if (!isStored(e.event.data)) throw new Error('not a stored event');
  return e.event.data.stored.blocks;
}

describe('VllmBatchDecoder', () => {
  it('recomputes tokens_hash in both event shapes and every batch shape, incl. map and 2-element SGLang batches (Dynamo 1.6.1 accepts only the 3-array)', () => {
    for (const eventShape of ['array', 'map'] as const) {
      for (const batchShape of ['vllm', 'sglang', 'map'] as const) {
        const { d, stats } = decoder();
        const events = d.decode(5n, encodeVllmBatch([stored()], { eventShape, batchShape }));
        expect(events, `${eventShape}/${batchShape}`).toHaveLength(1);
        const e = events![0]!;
        expect(e.worker_id).toBe(7n);
        expect(e.storage_tier).toBe('device');
        expect(e.event.event_id).toBe(5n);
        expect(storedBlocks(e)).toEqual([
          { block_hash: 101n, tokens_hash: LOCAL_1_4 },
          { block_hash: 102n, tokens_hash: LOCAL_5_8 },
        ]);
        expect(stats.blocks).toBe(2);
      }
    }
  });

  it('decodes u64, i64 and bytes hashes to the same exact 64-bit values (Dynamo 1.6.1 rejects bytes)', () => {
    const big = [0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0001n];
    for (const hashEncoding of ['u64', 'i64', 'bytes'] as const) {
      const { d } = decoder();
      const [e] = d.decode(
        0n,
        encodeVllmBatch([stored({ block_hashes: big, parent_block_hash: 2n ** 63n })], { hashEncoding }),
      )!;
      expect(
        storedBlocks(e!).map((b) => b.block_hash),
        hashEncoding,
      ).toEqual(big);
      expect(isStored(e!.event.data) && e!.event.data.stored.parent_hash).toBe(2n ** 63n);
    }
  });

  it('the batch data_parallel_rank overrides the registered rank; nil keeps it', () => {
    const { d } = decoder(4, 3);
    expect(d.decode(0n, encodeVllmBatch([stored()], { dpRank: 1 }))![0]!.event.dp_rank).toBe(1);
    expect(d.decode(1n, encodeVllmBatch([stored()], { dpRank: null }))![0]!.event.dp_rank).toBe(3);
    expect([...d.ranksSeen].sort()).toEqual([1, 3]);
  });

  it('salts with lora_name and cache_salt (map field or dynamo-cache-salt: extra key)', () => {
    const { d } = decoder();
    const viaField = d.decode(0n, encodeVllmBatch([stored({ cache_salt: 'salt1' })], { eventShape: 'map' }))!;
    expect(storedBlocks(viaField[0]!).map((b) => b.tokens_hash)).toEqual(SALTED);
    const viaExtraKeys = d.decode(
      1n,
      encodeVllmBatch([
        stored({ lora_name: 'my-adapter', extra_keys: [['my-adapter', 'dynamo-cache-salt:salt1'], null] }),
      ]),
    )!;
    expect(storedBlocks(viaExtraKeys[0]!).map((b) => b.tokens_hash)).toEqual(SALTED_LORA);
  });

  it('reads SGLang’s array form with a {cache_salt} map at position 7', () => {
    const { d } = decoder();
    const raw = packWireValue([
      0,
      [['BlockStored', [1n, 2n], null, [1, 2, 3, 4, 5, 6, 7, 8], 4, null, null, { cache_salt: 'salt1' }]],
    ]);
    expect(storedBlocks(d.decode(0n, raw)![0]!).map((b) => b.tokens_hash)).toEqual(SALTED);
  });

  it('reads legacy trailing metadata leniently: an int is group_idx, an array is block_mm_infos', () => {
    const { d, stats } = decoder();
    const info = { mm_objects: [{ mm_hash: 0x1234n, offsets: [] }] };
    const legacy = (group: number) =>
      packWireValue([
        0,
        [['BlockStored', [1n], null, [1, 2, 3, 4], 4, null, null, null, null, group, [info]]],
        0,
      ]);
    const expected = computeBlockHashes([1, 2, 3, 4], 4, { mmHashes: new Map([[0, [0x1234n]]]) });
    expect(storedBlocks(d.decode(0n, legacy(0))![0]!)[0]!.tokens_hash).toBe(expected[0]);
    expect(d.decode(1n, legacy(2))).toEqual([]);
    expect(stats.dropped_events.non_zero_group).toBe(1);
  });

  it('a store continuing a salted chain inherits its parent’s salt; removal and clear forget it', () => {
    const { d } = decoder();
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
    const first = stored({
      block_hashes: [1n],
      token_ids: tokens.slice(0, 4),
      extra_keys: [['dynamo-cache-salt:salt1']],
    });
    const next = stored({ block_hashes: [2n], parent_block_hash: 1n, token_ids: tokens.slice(4) });
    const hashOf = (seq: bigint, e: VllmWireEvent) =>
      storedBlocks(d.decode(seq, encodeVllmBatch([e]))![0]!)[0]!.tokens_hash;
    expect(hashOf(0n, first)).toBe(SALTED[0]);
    expect(hashOf(1n, next)).toBe(SALTED[1]);
    d.decode(2n, encodeVllmBatch([{ type: 'BlockRemoved', block_hashes: [1n] }]));
    expect(hashOf(3n, next)).toBe(LOCAL_5_8);
    hashOf(4n, first);
    d.decode(5n, encodeVllmBatch([{ type: 'AllBlocksCleared' }]));
    expect(hashOf(6n, next)).toBe(LOCAL_5_8);
  });

  it('treats bigram token_ids as EAGLE', () => {
    const { d } = decoder();
    const pairs = [1, 2, 3, 4, 5, 6, 7, 8].map((t) => [t, t + 1]);
    const raw = packWireValue([
      0,
      [['BlockStored', [101n, 102n], null, pairs, 4, null, null, null, null]],
      0,
    ]);
    const [e] = d.decode(0n, raw)!;
    expect(storedBlocks(e!).map((b) => b.tokens_hash)).toEqual(EAGLE_1_9);
  });

  it('hashes native vLLM 64-hex extra_keys mm hashes (Dynamo 1.6.1 ignores them)', () => {
    const { d } = decoder();
    const mmHex = `00000000deadbeef${'ab'.repeat(24)}`;
    const [e] = d.decode(0n, encodeVllmBatch([stored({ extra_keys: [null, [mmHex]] })]))!;
    const expected = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, {
      mmHashes: new Map([[1, [0xdeadbeefn]]]),
    });
    const blocks = storedBlocks(e!);
    expect(blocks[0]!.tokens_hash).toBe(LOCAL_1_4);
    expect(blocks[1]!.tokens_hash).toBe(expected[1]);
    expect(blocks[1]!.tokens_hash).not.toBe(LOCAL_5_8);
    expect(blocks[1]!.mm_extra_info?.mm_objects[0]?.mm_hash).toBe(0xdeadbeefn);
  });

  it('applies Dynamo block_mm_infos (map form) to the hash and keeps them on the block', () => {
    const { d } = decoder();
    const info = { mm_objects: [{ mm_hash: 0x1234n, offsets: [[0, 2]] }] };
    const raw = packWireValue([
      0,
      [
        {
          type: 'BlockStored',
          block_hashes: [1n, 2n],
          parent_block_hash: null,
          token_ids: [1, 2, 3, 4, 5, 6, 7, 8],
          block_size: 4,
          block_mm_infos: [info, null],
        },
      ],
      0,
    ]);
    const blocks = storedBlocks(d.decode(0n, raw)![0]!);
    const expected = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4, { mmHashes: new Map([[0, [0x1234n]]]) });
    expect(blocks.map((b) => b.tokens_hash)).toEqual([expected[0], LOCAL_5_8]);
    expect(blocks[0]!.mm_extra_info).toEqual(info);
  });

  it('maps medium to tier case-insensitively (Dynamo 1.6.1 drops "cpu_pinned")', () => {
    const { d, stats } = decoder();
    const tiers = ['GPU', 'cpu_pinned', 'CPU_TIER2', 'nvme', 'SHARED', null].map(
      (medium, i) => d.decode(BigInt(i), encodeVllmBatch([stored({ medium })]))![0]!.storage_tier,
    );
    expect(tiers).toEqual(['device', 'host_pinned', 'disk', 'disk', 'external', 'device']);
    expect(d.decode(9n, encodeVllmBatch([stored({ medium: 'LMCACHE' })]))).toEqual([]);
    expect(stats.dropped_events.unknown_medium).toBe(1);
  });

  it('drops one bad or filtered event, counts it by reason, and applies the rest of the batch (Dynamo 1.6.1 drops the whole batch)', () => {
    const { d, stats } = decoder();
    const good = ['BlockRemoved', [101n]];
    const payload = packWireValue([
      1.5,
      [
        good,
        ['SomethingNew', 1, 2],
        ['Ignored'],
        ['BlockStored', [5n], null, [1, 2, 3, 4], 4, null, null, null, null, 1, 'full_attention', null],
        ['BlockStored', [5n], null, [1, 2, 3, 4], 4, null, null, null, null, 0, 'sliding_window', 128],
        [
          'BlockStored',
          [5n],
          null,
          [1, 2, 3, 4],
          4,
          null,
          null,
          null,
          null,
          0,
          'full_attention',
          null,
          'REMOTE',
        ],
        ['BlockStored', [5n], null, [1, 2, 3, 4], 8],
        ['BlockStored', [5n, 5n], null, [1, 2, 3, 4, 5, 6, 7, 8], 4],
        ['BlockStored', [6n], 6n, [1, 2, 3, 4], 4],
        ['BlockStored', 'not-a-list', null, [1, 2, 3, 4], 4],
        ['BlockStored', [5n], null, [1, 2, -3, 4], 4],
        { type: 'BlockRemoved' },
        42,
        ['BlockStored', [5n], null, [1, 2], 4],
        { type: 'AllBlocksCleared' },
      ],
      null,
    ]);
    const events = d.decode(3n, payload)!;
    expect(events.map((e) => e.event.data)).toEqual([{ removed: { block_hashes: [101n] } }, 'cleared']);
    expect(stats.dropped_events).toMatchObject({
      unknown_tag: 1,
      ignored_tag: 1,
      non_zero_group: 1,
      non_main_kind: 1,
      non_local: 1,
      block_size_mismatch: 1,
      duplicate_hash: 2,
      event_shape: 4,
      empty_store: 1,
    });
  });

  it('keeps only hashes that have full token blocks', () => {
    const { d, stats } = decoder();
    const [e] = d.decode(0n, encodeVllmBatch([stored({ block_hashes: [1n, 2n, 3n] })]))!;
    expect(storedBlocks(e!).map((b) => b.block_hash)).toEqual([1n, 2n]);
    expect(stats.truncated_stores).toBe(1);
  });

  it('drops malformed messages whole and counts each by reason (Dynamo 1.6.1 only logs)', () => {
    const { d, stats } = decoder();
    const valid = encodeVllmBatch([stored()]);
    expect(d.decode(0n, Buffer.from([0xc1, 0xc1, 0xff]))).toBeNull();
    expect(d.decode(0n, valid.subarray(0, valid.length - 5))).toBeNull();
    expect(d.decode(0n, packWireValue('just a string'))).toBeNull();
    expect(d.decode(0n, packWireValue([1.0]))).toBeNull();
    expect(d.decode(0n, packWireValue(['ts', [], 0]))).toBeNull();
    expect(d.decode(0n, packWireValue([1.0, 'events', 0]))).toBeNull();
    expect(d.decode(0n, packWireValue([1.0, [], -1]))).toBeNull();
    expect(d.decode(0n, Buffer.alloc(9 * 1024 * 1024))).toBeNull();
    expect(stats.dropped_messages).toMatchObject({
      invalid_msgpack: 2,
      batch_shape: 5,
      payload_too_large: 1,
    });
    expect(d.decode(1n, valid)).toHaveLength(1);
  });
});
