import { U64_MAX } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { KvIndex } from './kv-index.ts';
import { scoreMap, sizeMap } from './test-support/apply-op.ts';
import { chain, cleared, removed, stored } from './test-support/events.ts';

const q = (...tokens: number[]) => tokens.map(BigInt);
const scores = (index: KvIndex, tokens: bigint[], earlyExit = false) =>
  Object.fromEntries(scoreMap(index, tokens, earlyExit));
const sizes = (index: KvIndex) => Object.fromEntries(sizeMap(index));

describe('stored', () => {
  it('scores the consecutive blocks from block 0, per (worker, dp_rank)', () => {
    const index = new KvIndex();
    expect(index.applyEvent(stored(1, null, chain(101, 3, 11)))).toBe('ok');
    expect(index.applyEvent(stored(1, null, chain(101, 2, 11), { dp: 1 }))).toBe('ok');
    expect(scores(index, q(11, 12, 13))).toEqual({ '1:0': 3, '1:1': 2 });
    expect(scores(index, q(11, 12, 99))).toEqual({ '1:0': 2, '1:1': 2 });
    expect(scores(index, q(12, 13))).toEqual({});
    expect(scores(index, [])).toEqual({});
  });

  it('rejects the whole store when the parent is unknown to that (worker, dp_rank)', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 2)));
    expect(index.applyEvent(stored(1, 999, [[103, 3]]))).toBe('parent_block_not_found');
    expect(index.applyEvent(stored(1, 102, [[103, 3]], { dp: 1 }))).toBe('parent_block_not_found');
    expect(index.applyEvent(stored(2, 102, [[103, 3]]))).toBe('parent_block_not_found');
    expect(scores(index, q(1, 2, 3))).toEqual({ '1:0': 2 });
    // A failed event still registers its rank, as Dynamo's apply_event does.
    expect(sizes(index)).toEqual({ '1:0': 2, '1:1': 0, '2:0': 0 });
  });

  it('rejects a block equal to its parent before looking the parent up', () => {
    const index = new KvIndex();
    expect(index.applyEvent(stored(1, 7, [[7, 1]]))).toBe('invalid_block_sequence');
    index.applyEvent(stored(1, null, [[7, 1]]));
    expect(
      index.applyEvent(
        stored(1, 7, [
          [8, 2],
          [7, 1],
        ]),
      ),
    ).toBe('invalid_block_sequence');
    expect(sizes(index)).toEqual({ '1:0': 1 });
  });

  it('accepts duplicate and empty stores, counting duplicates as a warning', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 3)));
    expect(index.applyEvent(stored(1, null, chain(101, 3)))).toBe('ok');
    expect(index.applyEvent(stored(1, 101, [[102, 2]]))).toBe('ok');
    expect(index.warnings.duplicateStore).toBe(2);
    expect(index.applyEvent(stored(1, null, []))).toBe('ok');
    expect(index.applyEvent(removed(1, []))).toBe('ok');
    expect(index.warnings.duplicateStore).toBe(2);
    expect(scores(index, q(1, 2, 3))).toEqual({ '1:0': 3 });
  });

  it('credits every worker storing the same tokens, with shared or its own engine hashes', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 2)));
    index.applyEvent(
      stored(1, 102, [
        [103, 3],
        [104, 4],
      ]),
    );
    index.applyEvent(stored(2, null, chain(201, 2)));
    // Dynamo 1.6.1 answers ParentBlockNotFound here (202 is not on the node's edge): the deliberate difference.
    expect(
      index.applyEvent(
        stored(2, 202, [
          [203, 3],
          [204, 4],
        ]),
      ),
    ).toBe('ok');
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 4, '2:0': 4 });
    expect(index.applyEvent(removed(2, [203]))).toBe('ok');
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 4, '2:0': 2 });
    expect(index.applyEvent(removed(2, [204]))).toBe('block_not_found');
    expect(sizes(index)).toEqual({ '1:0': 4, '2:0': 2 });
  });

  it('keeps u64 extremes exact', () => {
    const index = new KvIndex();
    index.applyEvent(
      stored(
        U64_MAX,
        null,
        [
          [U64_MAX, U64_MAX - 1n],
          [0n, U64_MAX],
        ],
        { dp: 0xffff_ffff },
      ),
    );
    expect(scores(index, [U64_MAX - 1n, U64_MAX])).toEqual({ [`${U64_MAX}:${0xffff_ffff}`]: 2 });
    expect(scores(index, [U64_MAX, U64_MAX])).toEqual({});
  });
});

describe('removed', () => {
  it('counts an unknown hash as block_not_found and still removes the rest', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 3)));
    expect(index.applyEvent(removed(1, [12345, 103]))).toBe('block_not_found');
    expect(scores(index, q(1, 2, 3))).toEqual({ '1:0': 2 });
  });

  it('cuts a compressed edge at a mid-chain block: 4 → 1, and re-storing it gives 2', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(removed(1, [102]));
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 1 });
    expect(index.applyEvent(stored(1, 103, [[105, 5]]))).toBe('parent_block_not_found');
    expect(index.applyEvent(removed(1, [104]))).toBe('block_not_found');
    index.applyEvent(stored(1, 101, [[102, 2]]));
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 2 });
  });

  it("keeps Dynamo's stale descendants when another worker still covers the cut node (4 → 1 → 4)", () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(
      stored(2, null, [
        [101, 1],
        [102, 2],
        [205, 5],
      ]),
    );
    index.applyEvent(removed(1, [102]));
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 1, '2:0': 2 });
    // (d) the stale descendants still count, (a) they still work as parents …
    expect(sizes(index)).toEqual({ '1:0': 3, '2:0': 3 });
    expect(index.applyEvent(stored(1, 104, [[106, 6]]))).toBe('ok');
    // … and (b) re-storing only the removed block revives the chain.
    index.applyEvent(stored(1, 101, [[102, 2]]));
    expect(scores(index, q(1, 2, 3, 4, 6))).toEqual({ '1:0': 5, '2:0': 2 });
  });

  it('unlinks the children of a node no worker fully covers; the stale lookups stay counted', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(
      stored(2, null, [
        [101, 1],
        [102, 2],
        [205, 5],
      ]),
    );
    index.applyEvent(removed(1, [102]));
    index.applyEvent(removed(2, [205]));
    index.applyEvent(removed(2, [102]));
    expect(sizes(index)).toEqual({ '1:0': 3, '2:0': 1 });
    // Still accepted as a parent, but what is stored under it is not reachable.
    expect(index.applyEvent(stored(1, 104, [[107, 7]]))).toBe('ok');
    index.applyEvent(stored(1, 101, [[102, 2]]));
    expect(scores(index, q(1, 2, 3, 4, 7))).toEqual({ '1:0': 2, '2:0': 1 });
    expect(sizes(index)).toEqual({ '1:0': 5, '2:0': 1 });
    const dumped = index
      .dump()
      .flatMap((e) =>
        'stored' in (e.event.data as object)
          ? (e.event.data as { stored: { blocks: { block_hash: bigint }[] } }).stored.blocks
          : [],
      );
    expect(dumped.map((b) => b.block_hash).sort()).toEqual([101n, 101n, 102n]);
  });
});

describe('cleared and worker removal', () => {
  it('clears only the emitting (worker, dp_rank)', () => {
    const index = new KvIndex();
    for (const dp of [0, 1]) index.applyEvent(stored(2, null, chain(211, 2), { dp }));
    index.applyEvent(stored(3, null, chain(311, 2)));
    index.applyEvent(cleared(2, { dp: 1 }));
    expect(scores(index, q(1, 2))).toEqual({ '2:0': 2, '3:0': 2 });
    expect(sizes(index)).toEqual({ '2:0': 2, '3:0': 2 });
  });

  it('removeWorker drops every rank, removeWorkerDpRank one, clearAllBlocks empties but keeps them', () => {
    const index = new KvIndex();
    for (const w of [1, 2, 3])
      for (const dp of [0, 1]) index.applyEvent(stored(w, null, chain(100 * w, 2), { dp }));
    index.removeWorker(1n);
    index.removeWorkerDpRank(2n, 1);
    index.clearAllBlocks(3n);
    index.removeWorker(424242n);
    expect(scores(index, q(1, 2))).toEqual({ '2:0': 2 });
    expect(sizes(index)).toEqual({ '2:0': 2, '3:0': 0, '3:1': 0 });
    expect(index.workerIds()).toEqual([2n, 3n]);
  });

  it('frees every block once no worker holds it', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(
      stored(2, null, [
        [101, 1],
        [102, 2],
        [205, 5],
      ]),
    );
    index.applyEvent(removed(1, [102]));
    index.applyEvent(stored(1, 101, [[102, 2]]));
    index.removeWorker(1n);
    index.removeWorker(2n);
    expect(index.blockSlotsInUse).toBe(0);
    expect(index.currentSize).toBe(0);
  });
});

describe('findMatches', () => {
  it("early exit stops once one worker remains, Dynamo's undercount (4 → 2)", () => {
    const index = new KvIndex();
    index.applyEvent(stored(5, null, chain(501, 4)));
    index.applyEvent(
      stored(6, null, [
        [501, 1],
        [502, 2],
        [660, 60],
      ]),
    );
    index.removeWorker(6n);
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '5:0': 4 });
    expect(scores(index, q(1, 2, 3, 4), true)).toEqual({ '5:0': 2 });
  });

  it('scores a partially covering worker up to its cutoff', () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(stored(2, null, chain(101, 2)));
    index.applyEvent(stored(3, null, chain(101, 3)));
    expect(scores(index, q(1, 2, 3, 4))).toEqual({ '1:0': 4, '2:0': 2, '3:0': 3 });
    expect(scores(index, q(1))).toEqual({ '1:0': 1, '2:0': 1, '3:0': 1 });
  });
});

describe('dump and load', () => {
  it("dumps stored events in Dynamo's shape that replay to the same scores and sizes", () => {
    const index = new KvIndex();
    index.applyEvent(stored(1, null, chain(101, 4)));
    index.applyEvent(
      stored(
        2,
        null,
        [
          [101, 1],
          [102, 2],
          [205, 5],
        ],
        { dp: 3 },
      ),
    );
    index.applyEvent(stored(2, null, chain(901, 2, 7)));
    const events = index.dump();
    expect(events.map((e) => e.event.event_id)).toEqual(events.map((_, i) => BigInt(i)));
    expect(events.every((e) => e.storage_tier === 'device' && e.residency_domain === 'worker')).toBe(true);
    const replay = new KvIndex();
    expect(replay.load(events)).toBe(0);
    expect(sizes(replay)).toEqual(sizes(index));
    for (const probe of [q(1, 2, 3, 4), q(1, 2, 5), q(7, 8)])
      expect(scores(replay, probe)).toEqual(scores(index, probe));
  });
});
