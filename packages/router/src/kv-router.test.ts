import { computeSequenceHashes } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { defaultRouterConfig, routerConfigError } from './config.ts';
import { DuplicateRequestError, KvRouter } from './kv-router.ts';

const w = (id: bigint, dp = 0) => ({ worker_id: id, dp_rank: dp });
const hashes = (n: number, base = 100n) => Array.from({ length: n }, (_, i) => base + BigInt(i));

function router(overrides: Partial<ReturnType<typeof defaultRouterConfig>> = {}, random = () => 0.5) {
  return new KvRouter({
    blockSize: 16,
    config: { ...defaultRouterConfig(), ...overrides },
    now: () => 0,
    random,
  });
}

describe('KvRouter', () => {
  it('prefers the worker with the cached prefix when loads are equal', () => {
    const r = router();
    const d = r.route({
      requestId: 'r1',
      localHashes: hashes(4),
      requestTokens: 64,
      candidates: [w(1n), w(2n)],
      overlaps: new Map([['2:0', 3]]),
    });
    // Worker 1: 4 prefill + 4 decode = 8; worker 2: 1 prefill + 4 decode = 5.
    expect(d.worker).toEqual(w(2n));
    expect(d.overlapBlocks).toBe(3);
    expect(d.scores.map((s) => s.logit)).toEqual([8, 5]);
  });

  it('a loaded worker loses its cache advantage; free gives it back', () => {
    const r = router();
    // Book 10 blocks of unrelated work (160 prefill tokens) on worker 2.
    r.route({
      requestId: 'busy',
      localHashes: hashes(10, 900n),
      requestTokens: 160,
      candidates: [w(2n)],
      overlaps: new Map(),
    });
    const input = {
      requestId: 'r2',
      localHashes: hashes(4),
      requestTokens: 64,
      candidates: [w(1n), w(2n)],
      overlaps: new Map([['2:0', 3]]),
    };
    // Worker 2: (160 + 16)/16 = 11 prefill + 10 + 4 decode = 25; worker 1: 8.
    expect(r.decide(input).worker).toEqual(w(1n));
    expect(r.markPrefillCompleted('busy')).toBe(true);
    // Worker 2: 1 prefill + 14 decode = 15; still worse than 8.
    expect(r.decide(input).worker).toEqual(w(1n));
    expect(r.free('busy')).toBe(true);
    expect(r.decide(input).worker).toEqual(w(2n));
  });

  it('books the request’s blocks and uncached tokens on the chosen worker', () => {
    const r = router();
    const local = hashes(4);
    r.route({
      requestId: 'r',
      localHashes: local,
      requestTokens: 70,
      candidates: [w(5n, 1)],
      overlaps: new Map([['5:1', 2]]),
    });
    expect(r.sequences.load(w(5n, 1))).toEqual({
      activeBlocks: 4,
      activePrefillTokens: 70 - 32,
      activeRequests: 1,
    });
    // The same prompt again adds no new blocks there.
    expect(r.sequences.newBlocks(w(5n, 1), Array.from(computeSequenceHashes(local)))).toBe(0);
  });

  it('refuses a request id already in flight', () => {
    const r = router();
    const input = {
      requestId: 'x',
      localHashes: hashes(1),
      requestTokens: 16,
      candidates: [w(1n)],
      overlaps: new Map(),
    };
    r.route(input);
    expect(() => r.route(input)).toThrow(DuplicateRequestError);
  });

  it('without active-block tracking only the cache counts', () => {
    const r = router({ trackActiveBlocks: false });
    for (let i = 0; i < 5; i++) {
      const d = r.route({
        requestId: `q${i}`,
        localHashes: hashes(4),
        requestTokens: 64,
        candidates: [w(1n), w(2n)],
        overlaps: new Map([['2:0', 1]]),
      });
      expect(d.worker).toEqual(w(2n));
    }
    expect(r.sequences.size).toBe(0);
  });

  it('allBusy follows threshold × capacity', () => {
    const r = router({ queueThreshold: 0.5, maxNumBatchedTokens: 100 });
    const route = (id: string, worker: bigint, tokens: number) =>
      r.route({
        requestId: id,
        localHashes: [],
        requestTokens: tokens,
        candidates: [w(worker)],
        overlaps: new Map(),
      });
    route('a', 1n, 60);
    expect(r.allBusy([w(1n), w(2n)])).toBe(false);
    route('b', 2n, 50);
    // 50 is not above 0.5 × 100.
    expect(r.allBusy([w(1n), w(2n)])).toBe(false);
    route('c', 2n, 1);
    expect(r.allBusy([w(1n), w(2n)])).toBe(true);
    r.markPrefillCompleted('a');
    expect(r.allBusy([w(1n), w(2n)])).toBe(false);
    expect(router().allBusy([w(1n)])).toBe(false);
  });
});

describe('routerConfigError', () => {
  it('accepts the defaults and names the first bad value', () => {
    expect(routerConfigError(defaultRouterConfig())).toBeUndefined();
    expect(routerConfigError({ ...defaultRouterConfig(), temperature: -1 })).toMatch(/temperature/);
    expect(routerConfigError({ ...defaultRouterConfig(), pruneTargetRatio: 1.5 })).toMatch(/prune target/);
    expect(routerConfigError({ ...defaultRouterConfig(), overlapScoreWeight: Number.NaN })).toMatch(/weight/);
  });
});
