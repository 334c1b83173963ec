import { readFileSync } from 'node:fs';
import { isStored, type RouterEvent } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import type { RemovedEventMode } from './engine.ts';
import type { EngineHashMode } from './engine-hashes.ts';
import { SimFleet, stepEvents } from './fleet.ts';
import { bestMatch, randomAssignment, roundRobin, sessionAffinity } from './policy.ts';
import { prepareRequest } from './request.ts';
import { EventReplayModel } from './test-support/event-replay-model.ts';
import { parseTrace, type TraceRequest } from './trace.ts';

const slice = parseTrace(
  readFileSync(new URL('../traces/conversation-slice.jsonl', import.meta.url), 'utf8'),
);

function t(...hashIds: number[]): TraceRequest {
  return { timestamp: 0, inputLength: hashIds.length * 512, outputLength: 1, hashIds };
}

describe('expected hits (every engine’s cached prefix before the request runs)', () => {
  it('hand-built: two workers, round robin, block size 256', () => {
    const fleet = new SimFleet({ workers: 2, blocksPerEngine: 100, blockSize: 256, policy: roundRobin() });
    const hits = (r: TraceRequest) => {
      const step = fleet.handle(r, { prefixHits: true });
      return [step.output.workerId, step.prefixHits!.map((h) => [h.workerId, h.dpRank, h.blocks])];
    };
    expect(hits(t(1, 2))).toEqual([0n, []]);
    expect(hits(t(1, 3))).toEqual([1n, [[0n, 0, 2]]]);
    expect(hits(t(1, 2, 4))).toEqual([
      0n,
      [
        [0n, 0, 4],
        [1n, 0, 2],
      ],
    ]);
    expect(hits(t(1, 3, 5))).toEqual([
      1n,
      [
        [0n, 0, 2],
        [1n, 0, 4],
      ],
    ]);
    // Another first id matches nowhere, even where later ids are cached.
    expect(hits(t(9, 2))).toEqual([0n, []]);
  });

  it('hand-built: an eviction shortens the match the next request sees', () => {
    const fleet = new SimFleet({ workers: 1, blocksPerEngine: 4, blockSize: 256, policy: roundRobin() });
    fleet.handle(t(1, 2));
    fleet.handle(t(1, 3)); // evicts a3, a2 (leaves), keeps 1's two blocks
    const step = fleet.handle(t(1, 2), { prefixHits: true });
    expect(step.prefixHits).toEqual([{ workerId: 0n, dpRank: 0, blocks: 2 }]);
    expect(step.output.hitBlocks).toBe(2);
  });

  it('equals a naive model’s prefix walk on the replayed events', () => {
    const fleet = new SimFleet({
      workers: 3,
      dpRanks: 2,
      blocksPerEngine: 200,
      blockSize: 64,
      policy: roundRobin(),
    });
    const model = new EventReplayModel();
    for (const r of slice.slice(0, 120)) {
      const step = fleet.handle(r, { prefixHits: true });
      for (const engine of fleet.engines) {
        const want = model.prefixMatch(engine.workerId, engine.dpRank, step.request.localHashes);
        const got = step.prefixHits!.find(
          (h) => h.workerId === engine.workerId && h.dpRank === engine.dpRank,
        );
        expect(got?.blocks ?? 0).toBe(want);
      }
      for (const e of stepEvents(step)) model.apply(e);
    }
  });
});

describe('events replayed into a naive per-worker model equal the engines’ true state', () => {
  const cases: [EngineHashMode, RemovedEventMode, number, number][] = [
    ['shared', 'per-block', 16, 600],
    ['per-engine', 'per-block', 64, 150],
    ['shared', 'batched', 64, 150],
    ['per-engine', 'batched', 16, 600],
  ];
  it.each(cases)(
    '%s hashes, %s removals, block size %i, %i blocks per engine',
    (hashes, removed, blockSize, cap) => {
      const fleet = new SimFleet({
        workers: 3,
        dpRanks: 2,
        blocksPerEngine: cap,
        blockSize,
        policy: sessionAffinity({ seed: 5n }),
        engineHashes: hashes,
        removedEvents: removed,
        seed: 11n,
      });
      const model = new EventReplayModel();
      let evictions = 0;
      for (const r of slice.slice(0, 150)) {
        const step = fleet.handle(r);
        for (const e of stepEvents(step)) model.apply(e); // throws on any impossible event
        evictions += step.output.removed.length;
        const engine = fleet.engines[step.engineIndex]!;
        const truth = new Map([...engine.pool.blocks()].map(([seq, engineHash]) => [engineHash, seq]));
        expect(model.sequenceHashes(engine.workerId, engine.dpRank)).toEqual(truth);
      }
      expect(evictions).toBeGreaterThan(100); // the pools were under pressure
      for (const engine of fleet.engines) {
        const truth = new Map([...engine.pool.blocks()].map(([seq, eh]) => [eh, seq]));
        const modelState = model.sequenceHashes(engine.workerId, engine.dpRank);
        expect(modelState.size).toBe(engine.cachedBlocks);
        for (const [eh, seq] of modelState) expect(truth.get(eh)).toBe(seq);
      }
    },
  );
});

function storedEvents(events: RouterEvent[]) {
  return events.flatMap((e) => (isStored(e.event.data) ? [e.event.data.stored] : []));
}

describe('engine block hashes', () => {
  const run = (engineHashes: EngineHashMode, seed = 1n) => {
    // Two workers, same requests twice: each worker stores the same tokens.
    const fleet = new SimFleet({
      workers: 2,
      blocksPerEngine: 5000,
      blockSize: 16,
      policy: roundRobin(),
      engineHashes,
      seed,
    });
    const perWorker: RouterEvent[][] = [[], []];
    for (const r of [slice[0]!, slice[0]!, slice[1]!, slice[1]!]) {
      const step = fleet.handle(r);
      perWorker[step.engineIndex]!.push(...stepEvents(step));
    }
    return perWorker.map(storedEvents);
  };

  it('tokens_hash is always the Dynamo LocalBlockHash; block_hash is shared only when asked', () => {
    const shared = run('shared');
    const perEngine = run('per-engine');
    const tokens = (s: ReturnType<typeof storedEvents>) =>
      s.flatMap((x) => x.blocks.map((b) => b.tokens_hash));
    const blocks = (s: ReturnType<typeof storedEvents>) =>
      s.flatMap((x) => x.blocks.map((b) => b.block_hash));
    for (const w of [0, 1]) expect(tokens(perEngine[w]!)).toEqual(tokens(shared[w]!));
    expect(tokens(shared[0]!)).toEqual(tokens(shared[1]!));
    expect(tokens(shared[0]!)).toEqual([
      ...prepareRequest(slice[0]!, 16, 0).localHashes,
      ...prepareRequest(slice[1]!, 16, 0).localHashes.subarray(32),
    ]);
    // Shared: both workers name the blocks by Dynamo's sequence hashes.
    expect(blocks(shared[0]!)).toEqual(blocks(shared[1]!));
    expect(blocks(shared[0]!).slice(0, 5)).toEqual([
      ...prepareRequest(slice[0]!, 16, 0).sequenceHashes.subarray(0, 5),
    ]);
    // Per engine: every block differs between the workers and from the shared names.
    const a = new Set(blocks(perEngine[0]!));
    const sharedNames = new Set(blocks(shared[0]!));
    for (const h of blocks(perEngine[1]!)) {
      expect(a.has(h)).toBe(false);
      expect(sharedNames.has(h)).toBe(false);
    }
    // The second request's store hangs off the first's block 31 under the engine's own name.
    expect(perEngine[0]![1]!.parent_hash).toBe(perEngine[0]![0]!.blocks[31]!.block_hash);
    expect(shared[0]![1]!.parent_hash).toBe(shared[0]![0]!.blocks[31]!.block_hash);
  });

  it('per-engine hashes are stable for a seed and change with it', () => {
    expect(run('per-engine', 1n)).toEqual(run('per-engine', 1n));
    const other = run('per-engine', 2n);
    expect(other[0]![0]!.blocks[0]!.block_hash).not.toBe(run('per-engine', 1n)[0]![0]!.blocks[0]!.block_hash);
  });
});

describe('assignment policies', () => {
  const fleetWith = (policy: ReturnType<typeof roundRobin>, workers = 4, dpRanks = 1) =>
    new SimFleet({ workers, dpRanks, blocksPerEngine: 64, blockSize: 512, policy });

  it('round robin visits every engine in turn, workers before ranks', () => {
    const fleet = fleetWith(roundRobin(), 3, 2);
    const chosen = slice.slice(0, 8).map((r) => {
      const o = fleet.handle(r).output;
      return `${o.workerId}:${o.dpRank}`;
    });
    expect(chosen).toEqual(['0:0', '1:0', '2:0', '0:1', '1:1', '2:1', '0:0', '1:0']);
  });

  it('session affinity sends requests with the same first hash ids to one engine and spreads the rest', () => {
    const fleet = fleetWith(sessionAffinity({ seed: 3n }), 8);
    const bySession = new Map<string, number[]>();
    const used = new Set<number>();
    for (const r of slice) {
      const step = fleet.handle(r);
      const key = r.hashIds.slice(0, 2).join(',');
      bySession.set(key, [...(bySession.get(key) ?? []), step.engineIndex]);
      used.add(step.engineIndex);
    }
    const repeated = [...bySession.values()].filter((engines) => engines.length > 1);
    expect(repeated.length).toBeGreaterThan(10);
    for (const engines of repeated) expect(new Set(engines).size).toBe(1);
    expect(used.size).toBe(8);
    // The key is the first `prefixIds` ids: with one id, the whole conversation trace shares id 0.
    const one = fleetWith(sessionAffinity({ prefixIds: 1 }), 8);
    expect(new Set(slice.slice(0, 50).map((r) => one.handle(r).engineIndex)).size).toBe(1);
  });

  it('random is uniform-ish, within range and reproducible from its seed', () => {
    const pick = (seed: bigint) => {
      const fleet = fleetWith(randomAssignment(seed), 4, 2);
      return slice.map((r) => fleet.handle(r).engineIndex);
    };
    const a = pick(42n);
    expect(pick(42n)).toEqual(a);
    expect(pick(43n)).not.toEqual(a);
    const counts = new Array(8).fill(0);
    for (const i of a) counts[i]++;
    for (const c of counts) expect(c).toBeGreaterThan(2000 / 8 / 2);
  });

  it('best match asks the injected router with the request’s local hashes', () => {
    const seen: BigUint64Array[] = [];
    const fleet = new SimFleet({
      workers: 3,
      dpRanks: 2,
      workerIds: [10n, 20n, 30n],
      blocksPerEngine: 64,
      blockSize: 512,
      policy: bestMatch((local) => {
        seen.push(local);
        return 20n;
      }),
    });
    const steps = slice.slice(0, 3).map((r) => fleet.handle(r));
    expect(steps.map((s) => [s.output.workerId, s.output.dpRank])).toEqual([
      [20n, 0],
      [20n, 1],
      [20n, 0],
    ]);
    expect(seen[1]).toEqual(prepareRequest(slice[1]!, 512, 1).localHashes);

    const keyed = new SimFleet({
      workers: 2,
      dpRanks: 2,
      blocksPerEngine: 64,
      blockSize: 512,
      policy: bestMatch(() => ({ worker_id: 1n, dp_rank: 1 })),
    });
    expect(keyed.handle(slice[0]!).engineIndex).toBe(3);
    const lost = new SimFleet({
      workers: 2,
      blocksPerEngine: 64,
      blockSize: 512,
      policy: bestMatch(() => 9n),
    });
    expect(() => lost.handle(slice[0]!)).toThrow(/worker 9, which is not in the fleet/);
    const badRank = new SimFleet({
      workers: 2,
      blocksPerEngine: 64,
      blockSize: 512,
      policy: bestMatch(() => ({ worker_id: 0n, dp_rank: 1 })),
    });
    expect(() => badRank.handle(slice[0]!)).toThrow(/dp rank 1/);
  });
});
