import { routerEventToValue, stringifyJsonExact, type WorkerKey } from '@kvindex/core';
import { KvIndex } from '@kvindex/indexer';
import { afterEach, describe, expect, it } from 'vitest';
import { engineOutputToWireEvents } from '../engine-output.ts';
import { TestEngine } from '../test-support/test-engine.ts';
import { eventually, waitFor } from '../test-support/wait-for.ts';
import { convertWireEvent } from '../vllm/convert-event.ts';
import { type PublishOptions, VllmZmqPublisher } from './vllm-zmq-publisher.ts';
import { ZmqEventListener } from './zmq-event-listener.ts';

const BLOCK_SIZE = 4;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** One simulated engine rank behind its own publisher, mirrored into the in-process truth index. */
interface Rank {
  key: WorkerKey;
  engine: TestEngine;
  publisher: VllmZmqPublisher;
  listener: ZmqEventListener;
}

/** The index as comparable text: dump events without their (positional) event ids, sorted. */
function snapshot(index: KvIndex): string[] {
  return index
    .dump()
    .map((e) => stringifyJsonExact(routerEventToValue({ ...e, event: { ...e.event, event_id: 0n } })))
    .sort();
}

describe('an index fed over real sockets equals one fed in process', () => {
  it('with dropped batches (gap → replay) and an engine restart (seq reset → clear + rebuild)', async () => {
    const wireIndex = new KvIndex();
    const truthIndex = new KvIndex();
    const keys: WorkerKey[] = [
      { worker_id: 1n, dp_rank: 0 },
      { worker_id: 1n, dp_rank: 1 },
      { worker_id: 2n, dp_rank: 0 },
    ];
    const listen = (key: WorkerKey, publisher: VllmZmqPublisher) => {
      const listener = new ZmqEventListener({
        workerId: key.worker_id,
        dpRank: key.dp_rank,
        endpoint: publisher.endpoint,
        replayEndpoint: publisher.replayEndpoint,
        blockSize: BLOCK_SIZE,
        reconnectMaxIntervalMs: 200,
        onEvents: (events) => {
          for (const e of events) wireIndex.applyEvent(e);
        },
        onClear: (w) => wireIndex.removeWorkerDpRank(w.worker_id, w.dp_rank),
      });
      listener.start();
      cleanup.push(() => listener.stop());
      return listener;
    };
    const ranks: Rank[] = [];
    for (const [i, key] of keys.entries()) {
      const publisher = await VllmZmqPublisher.bind({
        dpRank: key.dp_rank,
        eventShape: i % 2 ? 'map' : 'array',
      });
      cleanup.push(() => publisher.close());
      ranks.push({
        key,
        publisher,
        engine: new TestEngine({ blockSize: BLOCK_SIZE, capacity: 40, seed: 50 + i }),
        listener: listen(key, publisher),
      });
    }
    await waitFor(() => ranks.every((r) => r.listener.status().connected), 'listeners connected');

    const step = async (rank: Rank, options: PublishOptions = {}) => {
      const wire = engineOutputToWireEvents(rank.engine.step());
      const eventId = rank.publisher.sequence;
      for (const w of wire) {
        const c = convertWireEvent(w, {
          workerId: rank.key.worker_id,
          dpRank: rank.key.dp_rank,
          eventId,
          blockSize: BLOCK_SIZE,
        });
        if (!c.ok) throw new Error(c.reason);
        truthIndex.applyEvent(c.event);
      }
      await rank.publisher.publish(wire, options);
    };
    const settled = () =>
      waitFor(
        () =>
          ranks.every(
            (r) =>
              r.listener.status().next_seq === r.publisher.sequence && r.listener.status().state === 'active',
          ),
        'all listeners at their publisher’s seq',
      );

    for (let i = 0; i < 40; i++) for (const r of ranks) await step(r);
    // Batches lost on the wire for rank 0 (kept in its replay ring).
    for (let i = 0; i < 6; i++) await step(ranks[0]!, { dropOnWire: i % 2 === 0 });
    for (let i = 0; i < 10; i++) for (const r of ranks) await step(r);
    await settled();
    expect(snapshot(wireIndex)).toEqual(snapshot(truthIndex));

    // Worker 2 restarts: same endpoints, a new process with an empty cache and seq from 0.
    const old = ranks[2]!;
    const { endpoint, replayEndpoint } = old.publisher;
    await old.publisher.close();
    await waitFor(() => !old.listener.status().connected, 'worker 2 disconnected');
    const publisher = await eventually(
      () => VllmZmqPublisher.bind({ endpoint, replayEndpoint }),
      'worker 2 rebinds',
    );
    cleanup.push(() => publisher.close());
    ranks[2] = {
      ...old,
      publisher,
      engine: new TestEngine({ blockSize: BLOCK_SIZE, capacity: 40, seed: 99 }),
    };
    truthIndex.removeWorkerDpRank(old.key.worker_id, old.key.dp_rank);
    await waitFor(() => old.listener.status().connected, 'worker 2 reconnected');
    for (let i = 0; i < 15; i++) for (const r of ranks) await step(r);
    await settled();

    expect(old.listener.stats().restarts).toBe(1);
    expect(ranks[0]!.listener.stats().gaps).toBeGreaterThanOrEqual(1);
    expect(snapshot(wireIndex)).toEqual(snapshot(truthIndex));
    for (const r of ranks) {
      const size = wireIndex
        .treeSizes()
        .find((s) => s.worker_id === r.key.worker_id && s.dp_rank === r.key.dp_rank);
      expect(size?.blocks, `blocks of ${r.key.worker_id}:${r.key.dp_rank}`).toBe(r.engine.cached.size);
    }
  });
});
