import { computeBlockHashes, computeSequenceHashes, type RouterEvent } from '@kvindex/core';
import { defaultRouterConfig, type RouterConfig } from '@kvindex/router';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';
import { RegistryError } from './registry.ts';
import { noEventsListenerFactory, type RouteRequest, RouterService } from './router-service.ts';

const BS = 4;
const prompt = (n: number, base = 1) => Uint32Array.from({ length: n }, (_, i) => base + i);

function storedFor(worker: bigint, tokens: Uint32Array): RouterEvent {
  const local = computeBlockHashes(tokens, BS);
  const seq = computeSequenceHashes(local);
  return {
    worker_id: worker,
    storage_tier: 'device',
    event: {
      event_id: 0n,
      dp_rank: 0,
      data: {
        stored: {
          parent_hash: null,
          blocks: Array.from(local, (h, i) => ({ block_hash: seq[i]!, tokens_hash: h })),
        },
      },
    },
  };
}

let app: App | undefined;
afterEach(async () => {
  await app?.server.close();
  app = undefined;
});

interface Fixture {
  app: App;
  router: RouterService;
  clock: { t: number };
  store(worker: bigint, tokens: Uint32Array): void;
}

/** A real registry and index with workers 1 and 2 (block size 4), and a router on a fake clock. */
function fixture(config: Partial<RouterConfig> = {}, workers = [1n, 2n]): Fixture {
  const a = createApp({ indexFactory: kvIndexFactory, listenerFactory: noEventsListenerFactory });
  app = a;
  for (const id of workers) {
    a.service.registry.register({
      instanceId: id,
      endpoint: `tcp://127.0.0.1:${5000 + Number(id)}`,
      modelName: 'm',
      routingGroup: 'default',
      blockSize: BS,
      dpRank: 0,
      replayEndpoint: undefined,
    });
  }
  a.service.registry.start();
  const clock = { t: 1_000_000 };
  const router = new RouterService(a.service.registry, {
    config: { ...defaultRouterConfig(), ...config },
    now: () => clock.t,
    random: () => 0,
  });
  const store = (worker: bigint, tokens: Uint32Array) => {
    const p = a.service.registry.partition('m', 'default')!;
    expect(a.service.registry.applyEvent(p, storedFor(worker, tokens))).toBe('ok');
  };
  return { app: a, router, clock, store };
}

const req = (requestId: string, tokenIds: Uint32Array, extra: Partial<RouteRequest> = {}): RouteRequest => ({
  modelName: 'm',
  routingGroup: 'default',
  requestId,
  tokenIds,
  ...extra,
});

describe('RouterService over the event-fed index', () => {
  it('routes to the worker holding the prefix, then balances load', async () => {
    const f = fixture();
    f.store(2n, prompt(16));
    const first = await f.router.route(req('a', prompt(16)));
    expect(first).toMatchObject({ worker_id: 2n, dp_rank: 0, overlap_blocks: 4 });
    // Worker 1: 16/4 = 4 prefill + 4 decode = 8; worker 2: 0 prefill + 4 decode = 4.
    expect(first.logits).toEqual([
      { worker_id: 1n, dp_rank: 0, logit: 8, overlap_blocks: 0 },
      { worker_id: 2n, dp_rank: 0, logit: 4, overlap_blocks: 4 },
    ]);
    // An unrelated prompt: worker 2 carries 4 active blocks, worker 1 nothing.
    const second = await f.router.route(req('b', prompt(8, 100)));
    expect(second).toMatchObject({ worker_id: 1n, overlap_blocks: 0 });
  });

  it('free and mark_prefill_completed release load; unknown ids report false', async () => {
    const f = fixture();
    f.store(2n, prompt(16));
    await f.router.route(req('a', prompt(16)));
    expect(f.router.activeRequests()).toBe(1);
    expect(f.router.markPrefillCompleted('a')).toBe(false); // all 16 tokens cached: nothing to prefill
    expect(f.router.free('a')).toBe(true);
    expect(f.router.free('a')).toBe(false);
    expect(f.router.markPrefillCompleted('nope')).toBe(false);
    expect(f.router.activeRequests()).toBe(0);
  });

  it('allowed_worker_ids restricts the candidates', async () => {
    const f = fixture();
    f.store(2n, prompt(16));
    const r = await f.router.route(req('a', prompt(16), { allowedWorkerIds: [1n] }));
    expect(r).toMatchObject({ worker_id: 1n, overlap_blocks: 0 });
    expect(r.logits.map((l) => l.worker_id)).toEqual([1n]);
    expect(() => f.router.route(req('b', prompt(16), { allowedWorkerIds: [9n] }))).toThrow(
      /allowed_worker_ids/,
    );
  });

  it('takes block hashes instead of tokens', async () => {
    const f = fixture();
    f.store(1n, prompt(12));
    const r = await f.router.route({
      modelName: 'm',
      routingGroup: 'default',
      requestId: 'h',
      blockHashes: computeBlockHashes(prompt(12), BS),
    });
    expect(r).toMatchObject({ worker_id: 1n, overlap_blocks: 3 });
  });

  it('refuses an unknown model (404) and a request id already in flight (409)', async () => {
    const f = fixture();
    expect(() => f.router.route({ ...req('x', prompt(4)), modelName: 'other' })).toThrow(RegistryError);
    await f.router.route(req('x', prompt(4)));
    try {
      f.router.route(req('x', prompt(4)));
      expect.unreachable();
    } catch (err) {
      expect((err as RegistryError).status).toBe(409);
    }
  });

  it('expires requests never freed after 300 s, checked every 30 s', async () => {
    const f = fixture();
    await f.router.route(req('stale', prompt(8)));
    f.clock.t += 299_000;
    await f.router.route(req('fresh', prompt(8, 50)));
    expect(f.router.activeRequests()).toBe(2);
    f.clock.t += 31_000;
    await f.router.route(req('later', prompt(8, 90)));
    expect(f.router.expiredRequests()).toBe(1);
    expect(f.router.free('stale')).toBe(false);
    expect(f.router.free('fresh')).toBe(true);
  });

  it('parks requests (fcfs) while every worker is over the threshold', async () => {
    const f = fixture({ queueThreshold: 1, maxNumBatchedTokens: 4 }, [1n]);
    await f.router.route(req('a', prompt(8)));
    const parked = f.router.route(req('b', prompt(8, 40)));
    expect(parked).toBeInstanceOf(Promise);
    let settled = false;
    void (parked as Promise<unknown>).then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(f.router.markPrefillCompleted('a')).toBe(true);
    await expect(parked).resolves.toMatchObject({ worker_id: 1n });
    f.router.close();
  });
});

describe('RouterService without active-block tracking', () => {
  it('routes on the cache alone and accepts free / mark_prefill_completed as no-ops', async () => {
    const f = fixture({ trackActiveBlocks: false });
    f.store(2n, prompt(16));
    for (const id of ['a', 'b', 'c'])
      expect(await f.router.route(req(id, prompt(16)))).toMatchObject({ worker_id: 2n });
    expect(f.router.activeRequests()).toBe(0);
    expect(f.router.markPrefillCompleted('a')).toBe(true);
    expect(f.router.free('a')).toBe(true);
  });
});

describe('RouterService in approximate mode', () => {
  it('learns from its own decisions and forgets after the TTL', async () => {
    const f = fixture({ useKvEvents: false, ttlSecs: 120 });
    const first = await f.router.route(req('a', prompt(16)));
    expect(first.overlap_blocks).toBe(0);
    f.router.free('a');
    const again = await f.router.route(req('b', prompt(16)));
    expect(again).toMatchObject({ worker_id: first.worker_id, overlap_blocks: 4 });
    f.router.free('b');
    f.clock.t += 121_000;
    const expired = await f.router.route(req('c', prompt(16)));
    expect(expired.overlap_blocks).toBe(0);
  });

  it('ignores the event-fed index', async () => {
    const f = fixture({ useKvEvents: false });
    f.store(2n, prompt(16));
    const r = await f.router.route(req('a', prompt(16)));
    expect(r.overlap_blocks).toBe(0);
  });
});
