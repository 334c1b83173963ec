import { computeBlockHashes, computeSequenceHashes, type RouterEvent } from '@kvindex/core';
import { defaultRouterConfig } from '@kvindex/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../src/app.ts';
import { noEventsListenerFactory } from '../src/service/router-service.ts';
import { kvIndexFactory } from '../src/wiring/kv-index-partition.ts';
import { type RemoteIndexer, remoteIndexer } from '../src/wiring/remote-indexer.ts';

// --use-remote-indexer over HTTP: a routing app with no index of its own asks a serving app
// (a real HTTP server on loopback) for overlaps; a dead remote degrades to zero overlaps, counted.

const BIG = 18_446_744_073_709_551_557n;
const TOKENS = Uint32Array.from({ length: 16 }, (_, i) => i + 1);

function stored(worker: bigint): RouterEvent {
  const local = computeBlockHashes(TOKENS, 4);
  const seq = computeSequenceHashes(local);
  return {
    worker_id: worker,
    storage_tier: 'device',
    event: {
      event_id: 1n,
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

function register(app: App, ids: bigint[]): void {
  for (const id of ids) {
    app.service.registry.register({
      instanceId: id,
      endpoint: 'tcp://127.0.0.1:5999',
      modelName: 'm',
      routingGroup: 'default',
      blockSize: 4,
      dpRank: 0,
      replayEndpoint: undefined,
    });
  }
  app.service.registry.start();
}

describe('--use-remote-indexer over HTTP', () => {
  let serving: App;
  let url: string;
  const clients: RemoteIndexer[] = [];
  const apps: App[] = [];

  beforeAll(async () => {
    serving = createApp({ indexFactory: kvIndexFactory, listenerFactory: noEventsListenerFactory });
    register(serving, [1n, BIG]);
    const p = serving.service.registry.partition('m', 'default')!;
    expect(serving.service.registry.applyEvent(p, stored(BIG))).toBe('ok');
    url = await serving.server.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    for (const a of apps) await a.server.close();
    for (const c of clients) await c.close();
    await serving.server.close();
  });

  function routingApp(target: string): { app: App; remote: RemoteIndexer } {
    const remote = remoteIndexer(target, { timeoutMs: 2_000 });
    clients.push(remote);
    const app = createApp({
      indexFactory: kvIndexFactory,
      listenerFactory: noEventsListenerFactory,
      router: defaultRouterConfig(),
      routerRemote: remote,
    });
    apps.push(app);
    register(app, [1n, BIG]);
    return { app, remote };
  }

  it('routes on the remote index’s overlaps', async () => {
    const { app, remote } = routingApp(url);
    const r = await app.router.route({
      modelName: 'm',
      routingGroup: 'default',
      requestId: 'a',
      tokenIds: TOKENS,
    });
    expect(r).toMatchObject({ worker_id: BIG, overlap_blocks: 4 });
    expect(remote.failures()).toBe(0);
    // The routing app's own index stays empty.
    expect(app.service.registry.partition('m', 'default')!.index.workerBlocks()).toEqual([]);
  });

  it('a remote that does not answer degrades to zero overlaps and is counted', async () => {
    // A port that was just free: nothing listens there.
    const probe = createApp({ indexFactory: kvIndexFactory, listenerFactory: noEventsListenerFactory });
    const dead = await probe.server.listen({ host: '127.0.0.1', port: 0 });
    await probe.server.close();
    const { app, remote } = routingApp(dead);
    const r = await app.router.route({
      modelName: 'm',
      routingGroup: 'default',
      requestId: 'b',
      tokenIds: TOKENS,
    });
    expect(r.overlap_blocks).toBe(0);
    expect(remote.failures()).toBe(1);
    expect(remote.lastError()).toBeDefined();
  });

  it('a remote without the model is counted too; a local unknown model stays a 404', async () => {
    const { app, remote } = routingApp(url);
    app.service.registry.register({
      instanceId: 7n,
      endpoint: 'tcp://127.0.0.1:5999',
      modelName: 'other',
      routingGroup: 'default',
      blockSize: 4,
      dpRank: 0,
      replayEndpoint: undefined,
    });
    const r = await app.router.route({
      modelName: 'other',
      routingGroup: 'default',
      requestId: 'c',
      tokenIds: TOKENS,
    });
    expect(r).toMatchObject({ worker_id: 7n, overlap_blocks: 0 });
    expect(remote.failures()).toBe(1);
    expect(remote.lastError()).toMatch(/404/);
    expect(() =>
      app.router.route({ modelName: 'missing', routingGroup: 'default', requestId: 'd', tokenIds: TOKENS }),
    ).toThrow(/no indexer for model=missing/);
  });
});
