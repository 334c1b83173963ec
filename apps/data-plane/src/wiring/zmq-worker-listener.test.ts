import { computeBlockHashes } from '@kvindex/core';
import { VllmZmqPublisher } from '@kvindex/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service/service.ts';
import { kvIndexFactory } from './kv-index-partition.ts';
import { zmqWorkerListenerFactory } from './zmq-worker-listener.ts';

const BLOCK = 4;
const TOKENS = Uint32Array.from({ length: 12 }, (_, i) => i + 1);
const LOCAL = computeBlockHashes(TOKENS, BLOCK);

async function until<T>(check: () => T | Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let service: Service | undefined;
let publisher: VllmZmqPublisher | undefined;
afterEach(async () => {
  await service?.close();
  await publisher?.close();
  service = undefined;
  publisher = undefined;
});

async function setUp() {
  publisher = await VllmZmqPublisher.bind({ eventShape: 'map' });
  service = createService({ indexFactory: kvIndexFactory, listenerFactory: zmqWorkerListenerFactory() });
  const { registry } = service;
  registry.start();
  registry.register({
    instanceId: 7n,
    endpoint: publisher.endpoint,
    replayEndpoint: publisher.replayEndpoint ?? undefined,
    modelName: 'm',
    routingGroup: 'default',
    blockSize: BLOCK,
    dpRank: 0,
  });
  const p = registry.partition('m', 'default')!;
  const listener = () => registry.listeners()[0]!;
  await until(() => listener().status === 'active', 'the listener to connect');
  return { registry, p, listener, publisher };
}

describe('ZMQ listeners in the ingest worker', () => {
  it('delivers decoded batches to the index, with stats and counted drops reported from the worker', async () => {
    const { p, listener, publisher } = await setUp();
    // Publish until the SUB side has joined (PUB drops messages sent before the subscription).
    await until(async () => {
      if (p.eventsApplied === 0)
        await publisher.publish([
          {
            type: 'BlockStored',
            block_hashes: [2n ** 64n - 1n, 2n ** 63n, 5n],
            parent_block_hash: null,
            token_ids: TOKENS,
            block_size: BLOCK,
          },
        ]);
      return p.eventsApplied > 0;
    }, 'the stored event to be applied');
    const [m] = p.index.findMatches(LOCAL);
    expect(m).toMatchObject({ workerId: 7n, dpRank: 0, device: 3 });

    await publisher.publish([
      { type: 'BlockStored', block_hashes: [9n], parent_block_hash: null, token_ids: [1, 2], block_size: 2 },
      { type: 'BlockRemoved', block_hashes: [5n] },
    ]);
    await until(
      () => listener().stats.dropped.block_size_mismatch === 1,
      'the mismatched store to be counted',
    );
    await until(() => p.index.findMatches(LOCAL)[0]?.device === 2, 'the removal to apply');
    expect(listener().stats.events).toBeGreaterThanOrEqual(2);
  });

  it('drops batches still in flight once the worker is unregistered: no resurrected blocks', async () => {
    const { registry, p, publisher } = await setUp();
    await until(async () => {
      if (p.eventsApplied === 0)
        await publisher.publish([
          {
            type: 'BlockStored',
            block_hashes: [1n],
            parent_block_hash: null,
            token_ids: [1, 2, 3, 4],
            block_size: BLOCK,
          },
        ]);
      return p.eventsApplied > 0;
    }, 'a first event');
    for (let i = 0; i < 50; i++)
      void publisher.publish([
        {
          type: 'BlockStored',
          block_hashes: [100n + BigInt(i)],
          parent_block_hash: null,
          token_ids: [i, i, i, i],
          block_size: BLOCK,
        },
      ]);
    const closing = registry.unregisterInModel(7n, 'm');
    expect(registry.partition('m', 'default')).toBeUndefined();
    await closing;
    await service!.ingestor.idle();
    expect(p.index.workerBlocks()).toEqual([]);
  });
});
