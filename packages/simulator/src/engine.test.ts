import { isRemoved, isStored } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { SimEngine, toRouterEvents } from './engine.ts';
import { prepareRequest, type SimRequest } from './request.ts';

// Block size 256: every trace hash id is two blocks, so hand-built requests stay readable.
const BS = 256;
let nextIndex = 0;
function req(...hashIds: number[]): SimRequest {
  return prepareRequest(
    { timestamp: 0, inputLength: hashIds.length * 512, outputLength: 1, hashIds },
    BS,
    nextIndex++,
  );
}

function removedOrder(engine: SimEngine, r: SimRequest): bigint[] {
  return engine.handle(r).removed.flatMap((x) => x.blockHashes);
}

describe('SimEngine LRU pool', () => {
  it('stores a fresh request from the root and reports raw vLLM-side data', () => {
    const engine = new SimEngine({ workerId: 7n, dpRank: 1, capacity: 6, blockSize: BS });
    const a = req(1, 2);
    const out = engine.handle(a);
    expect(out).toMatchObject({ workerId: 7n, dpRank: 1, hitBlocks: 0, blockCount: 4, removed: [] });
    expect(out.stored?.parentHash).toBeNull();
    expect([...out.stored!.blockHashes]).toEqual([...a.sequenceHashes]);
    expect([...out.stored!.tokensHashes]).toEqual([...a.localHashes]);
    expect(out.stored!.tokenIds).toEqual(a.tokens);
    expect(out.stored!.blockSize).toBe(BS);
    expect(out.stored!.eventId).toBe(0n);
  });

  it('touches the cached prefix and chains the stored rest to it', () => {
    const engine = new SimEngine({ workerId: 0n, capacity: 6, blockSize: BS });
    const a = req(1, 2);
    engine.handle(a);
    const b = req(1, 3);
    const out = engine.handle(b);
    expect(out.hitBlocks).toBe(2);
    expect(out.stored!.parentHash).toBe(a.sequenceHashes[1]);
    expect(out.stored!.startBlock).toBe(2);
    expect([...out.stored!.blockHashes]).toEqual([...b.sequenceHashes.subarray(2)]);
    expect(out.stored!.tokenIds).toEqual(b.tokens.subarray(2 * BS));
    expect(out.stored!.eventId).toBe(1n);
    // A full hit stores nothing and emits nothing.
    const again = engine.handle(req(1, 3));
    expect(again.hitBlocks).toBe(4);
    expect(again.stored).toBeNull();
    expect(toRouterEvents(again)).toEqual([]);
  });

  it('evicts least recently used blocks, leaves before their parents, and never a block in use', () => {
    const engine = new SimEngine({ workerId: 0n, capacity: 6, blockSize: BS });
    const a = req(1, 2); // a0 a1 a2 a3
    const b = req(1, 3); // shares a0 a1, adds b2 b3
    const c = req(4); // c0 c1
    expect(removedOrder(engine, a)).toEqual([]);
    expect(removedOrder(engine, b)).toEqual([]); // the two never-used slots go first
    // a2 a3 were freed earliest; a3 (the leaf) goes before a2.
    expect(removedOrder(engine, c)).toEqual([a.sequenceHashes[3], a.sequenceHashes[2]]);
    // Next oldest: b's blocks, leaf first, then the shared prefix a1 before a0.
    const d = req(5, 6);
    expect(removedOrder(engine, d)).toEqual([
      b.sequenceHashes[3],
      b.sequenceHashes[2],
      a.sequenceHashes[1],
      a.sequenceHashes[0],
    ]);
    // c0 c1 are now the least recently used, but this request uses them: d's blocks go instead.
    const e = req(4, 7, 8);
    const out = engine.handle(e);
    expect(out.hitBlocks).toBe(2);
    expect(out.removed.flatMap((x) => x.blockHashes)).toEqual([
      d.sequenceHashes[3],
      d.sequenceHashes[2],
      d.sequenceHashes[1],
      d.sequenceHashes[0],
    ]);
    expect(engine.pool.has(c.sequenceHashes[0]!) && engine.pool.has(c.sequenceHashes[1]!)).toBe(true);
    expect(engine.cachedBlocks).toBe(6);
  });

  it('a request longer than the pool keeps its first `capacity` blocks', () => {
    const engine = new SimEngine({ workerId: 0n, capacity: 5, blockSize: BS });
    engine.handle(req(1));
    const long = req(1, 2, 3, 4);
    const out = engine.handle(long);
    expect(out.blockCount).toBe(5);
    expect(out.hitBlocks).toBe(2);
    expect(out.stored!.blockHashes.length).toBe(3);
    expect(out.removed).toEqual([]);
    expect(engine.matchPrefix(long)).toBe(5);
  });

  it('batched mode folds a request’s evictions into one Removed event', () => {
    const perBlock = new SimEngine({ workerId: 0n, capacity: 4, blockSize: BS });
    const batched = new SimEngine({ workerId: 0n, capacity: 4, blockSize: BS, removedEvents: 'batched' });
    const a = req(1, 2);
    const b = req(3, 4);
    perBlock.handle(a);
    batched.handle(a);
    const p = perBlock.handle(b);
    const q = batched.handle(b);
    expect(p.removed.map((r) => r.blockHashes.length)).toEqual([1, 1, 1, 1]);
    expect(p.removed.map((r) => r.eventId)).toEqual([1n, 2n, 3n, 4n]);
    expect(p.stored!.eventId).toBe(5n);
    expect(q.removed).toEqual([{ eventId: 1n, blockHashes: p.removed.flatMap((r) => r.blockHashes) }]);
    expect(q.stored!.eventId).toBe(2n);
  });

  it('toRouterEvents emits removals first, then the store, in Dynamo wire shape', () => {
    const engine = new SimEngine({ workerId: 3n, dpRank: 2, capacity: 2, blockSize: BS });
    const a = req(1);
    engine.handle(a);
    const b = req(2);
    const events = toRouterEvents(engine.handle(b));
    expect(events.map((e) => [e.worker_id, e.event.dp_rank, e.storage_tier])).toEqual([
      [3n, 2, 'device'],
      [3n, 2, 'device'],
      [3n, 2, 'device'],
    ]);
    expect(events.map((e) => e.event.event_id)).toEqual([1n, 2n, 3n]);
    expect(isRemoved(events[0]!.event.data) && events[0]!.event.data.removed.block_hashes).toEqual([
      a.sequenceHashes[1],
    ]);
    expect(isRemoved(events[1]!.event.data) && events[1]!.event.data.removed.block_hashes).toEqual([
      a.sequenceHashes[0],
    ]);
    const stored = events[2]!.event.data;
    expect(isStored(stored)).toBe(true);
    if (!isStored(stored)) return;
    expect(stored.stored.parent_hash).toBeNull();
    expect(stored.stored.blocks).toEqual([
      { block_hash: b.sequenceHashes[0], tokens_hash: b.localHashes[0] },
      { block_hash: b.sequenceHashes[1], tokens_hash: b.localHashes[1] },
    ]);
  });

  it('refuses a request hashed at another block size', () => {
    const engine = new SimEngine({ workerId: 0n, capacity: 4, blockSize: 16 });
    expect(() => engine.handle(req(1))).toThrow(/block size 256/);
  });
});
