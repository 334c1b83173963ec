import { describe, expect, it } from 'vitest';
import { manualListeners } from '../test-support/manual-listener.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';
import { Ingestor } from './ingestor.ts';
import { aggregateStatus, RegistryError, WorkerRegistry } from './registry.ts';

const reg = (id: bigint, dp = 0, model = 'm') => ({
  instanceId: id,
  endpoint: 'tcp://127.0.0.1:1',
  replayEndpoint: undefined,
  modelName: model,
  routingGroup: 'default',
  blockSize: 4,
  dpRank: dp,
});

describe('WorkerRegistry', () => {
  it('aggregates listener statuses as Dynamo: failed > pending > active > paused', () => {
    expect(aggregateStatus(['active', 'failed', 'pending'])).toBe('failed');
    expect(aggregateStatus(['active', 'pending'])).toBe('pending');
    expect(aggregateStatus(['paused', 'active'])).toBe('active');
    expect(aggregateStatus(['paused'])).toBe('paused');
  });

  it('reports a listener that cannot be created as failed instead of throwing', () => {
    const registry = new WorkerRegistry({
      indexFactory: kvIndexFactory,
      listenerFactory: () => {
        throw new Error('socket: too many open files');
      },
      ingestor: new Ingestor(),
    });
    registry.start();
    registry.register(reg(1n));
    expect(registry.listWorkers()).toMatchObject([
      {
        instance_id: 1n,
        status: 'failed',
        listeners: { '0': { status: 'failed', last_error: 'socket: too many open files' } },
      },
    ]);
  });

  it('defers listeners until start() (state loads first), then starts them', () => {
    const l = manualListeners();
    const registry = new WorkerRegistry({
      indexFactory: kvIndexFactory,
      listenerFactory: l.factory,
      ingestor: new Ingestor(),
    });
    registry.register(reg(1n));
    expect(l.all).toHaveLength(0);
    expect(registry.listWorkers()[0]!.status).toBe('pending');
    registry.start();
    expect(l.all).toHaveLength(1);
  });

  it('keeps a pinned (NATS-fed) partition when its last instance goes, deletes others', async () => {
    const l = manualListeners();
    const registry = new WorkerRegistry({
      indexFactory: kvIndexFactory,
      listenerFactory: l.factory,
      ingestor: new Ingestor(),
    });
    registry.start();
    registry.pinPartition('nats', 'default', 4);
    registry.register(reg(1n, 0, 'nats'));
    registry.register(reg(2n, 0, 'zmq'));
    await registry.unregisterInModel(1n, 'nats');
    await registry.unregisterInModel(2n, 'zmq');
    expect(registry.partitions().map((p) => p.modelName)).toEqual(['nats']);
    expect(() => registry.unregisterInModel(2n, 'zmq')).toThrow(RegistryError);
  });

  it('pauses every listener under backpressure, including ones started meanwhile', () => {
    const l = manualListeners();
    const registry = new WorkerRegistry({
      indexFactory: kvIndexFactory,
      listenerFactory: l.factory,
      ingestor: new Ingestor(),
    });
    registry.start();
    registry.register(reg(1n));
    registry.setPaused(true);
    registry.register(reg(2n));
    expect(l.all.map((x) => x.paused)).toEqual([true, true]);
    registry.setPaused(false);
    expect(l.all.map((x) => x.paused)).toEqual([false, false]);
  });
});
