import type { WorkerKey } from '@kvindex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockState, sortedHashes } from '../test-support/block-state.ts';
import { TestEngine } from '../test-support/test-engine.ts';
import { waitFor } from '../test-support/wait-for.ts';
import { endpointForDpRank, ZmqFleetPublishers } from './fleet-publishers.ts';
import { ZmqEventListener } from './zmq-event-listener.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('ZmqFleetPublishers', () => {
  it('N simulated workers publish over real sockets; one listener each rebuilds every engine', async () => {
    const workers: WorkerKey[] = [
      { worker_id: 1n, dp_rank: 0 },
      { worker_id: 1n, dp_rank: 1 },
      { worker_id: 2n, dp_rank: 0 },
      { worker_id: 0xffff_ffff_ffff_fff0n, dp_rank: 0 },
    ];
    const fleet = await ZmqFleetPublishers.bind(workers, { eventShape: 'map' });
    cleanup.push(() => fleet.close());
    const state = new BlockState();
    const listeners = fleet.endpoints().map((ep) => {
      const l = new ZmqEventListener({
        workerId: ep.worker_id,
        dpRank: ep.dp_rank,
        endpoint: ep.endpoint,
        replayEndpoint: ep.replay_endpoint,
        blockSize: 4,
        onEvents: (events) => state.apply(events),
        onClear: (w) => state.clear(w),
      });
      l.start();
      cleanup.push(() => l.stop());
      return l;
    });
    await waitFor(() => listeners.every((l) => l.status().connected), 'all listeners connected');
    const engines = workers.map((w, i) => ({
      w,
      engine: new TestEngine({ blockSize: 4, capacity: 40, seed: 100 + i }),
    }));
    for (let step = 0; step < 60; step++) {
      for (const { w, engine } of engines) {
        await fleet.publish({ ...engine.step(), workerId: w.worker_id, dpRank: w.dp_rank });
      }
    }
    await waitFor(
      () => listeners.every((l) => l.status().next_seq === 60n && l.status().state === 'active'),
      'all listeners at seq 60',
    );
    for (const { w, engine } of engines) {
      expect(state.hashes(w)).toEqual(sortedHashes(engine.cached.keys()));
    }
  });

  it('applies vLLM’s data-parallel port rule', () => {
    expect(endpointForDpRank('tcp://127.0.0.1:5557', 0)).toBe('tcp://127.0.0.1:5557');
    expect(endpointForDpRank('tcp://127.0.0.1:5557', 3)).toBe('tcp://127.0.0.1:5560');
    expect(() => endpointForDpRank('ipc:///tmp/x', 1)).toThrow(/tcp endpoint/);
  });
});
