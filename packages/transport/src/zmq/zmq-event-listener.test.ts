import { type RouterEvent, routerEventToValue, stringifyJsonExact } from '@kvindex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { engineOutputToWireEvents } from '../engine-output.ts';
import { BlockState, sortedHashes } from '../test-support/block-state.ts';
import { TestEngine } from '../test-support/test-engine.ts';
import { eventually, waitFor } from '../test-support/wait-for.ts';
import { convertWireEvent } from '../vllm/convert-event.ts';
import { packWireValue } from '../vllm/wire-encode.ts';
import { encodeSeq } from './seq-frame.ts';
import { type PublishOptions, VllmZmqPublisher, type VllmZmqPublisherOptions } from './vllm-zmq-publisher.ts';
import { ZmqEventListener, type ZmqEventListenerOptions } from './zmq-event-listener.ts';

const BLOCK_SIZE = 4;
const WORKER = { worker_id: 11n, dp_rank: 0 };
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function publisher(options: VllmZmqPublisherOptions = {}): Promise<VllmZmqPublisher> {
  const pub = await VllmZmqPublisher.bind(options);
  cleanup.push(() => pub.close());
  return pub;
}

interface Harness {
  listener: ZmqEventListener;
  state: BlockState;
  received: RouterEvent[];
  clears: number;
}

function listen(
  pub: { endpoint: string; replayEndpoint: string | null },
  options: Partial<ZmqEventListenerOptions> = {},
) {
  const h: Harness = {
    listener: undefined as unknown as ZmqEventListener,
    state: new BlockState(),
    received: [],
    clears: 0,
  };
  h.listener = new ZmqEventListener({
    workerId: WORKER.worker_id,
    endpoint: pub.endpoint,
    replayEndpoint: pub.replayEndpoint,
    blockSize: BLOCK_SIZE,
    // ZMQ backs reconnects off exponentially; a short cap keeps restart tests from waiting it out.
    reconnectMaxIntervalMs: 200,
    onEvents: (events) => {
      h.received.push(...events);
      h.state.apply(events);
    },
    onClear: (worker) => {
      h.clears++;
      h.state.clear(worker);
    },
    ...options,
  });
  h.listener.start();
  cleanup.push(() => h.listener.stop());
  return h;
}

/** Runs `steps` engine requests through the publisher; returns the RouterEvents they should become. */
async function drive(
  engine: TestEngine,
  pub: VllmZmqPublisher,
  steps: number,
  options: (step: number) => PublishOptions = () => ({}),
): Promise<RouterEvent[]> {
  const expected: RouterEvent[] = [];
  for (let i = 0; i < steps; i++) {
    const wire = engineOutputToWireEvents(engine.step());
    const seq = pub.sequence;
    for (const w of wire) {
      const c = convertWireEvent(w, {
        workerId: WORKER.worker_id,
        dpRank: 0,
        eventId: seq,
        blockSize: BLOCK_SIZE,
      });
      if (!c.ok) throw new Error(`test engine produced a dropped event: ${c.reason}`);
      expected.push(c.event);
    }
    await pub.publish(wire, options(i));
  }
  return expected;
}

const json = (events: RouterEvent[]) => events.map((e) => stringifyJsonExact(routerEventToValue(e)));

async function connected(h: Harness) {
  await waitFor(() => h.listener.status().connected, 'listener connected');
}

async function caughtUp(h: Harness, pub: VllmZmqPublisher) {
  try {
    await waitFor(
      () => h.listener.status().next_seq === pub.sequence && h.listener.status().state === 'active',
      `listener at seq ${pub.sequence}`,
    );
  } catch (err) {
    const detail = stringifyJsonExact({ status: h.listener.status(), stats: h.listener.stats() });
    throw new Error(`${(err as Error).message}; ${detail}`);
  }
}

describe('ZmqEventListener over real sockets', () => {
  it('delivers every batch in order; the received stream equals the events sent (array and map shapes)', async () => {
    for (const eventShape of ['array', 'map'] as const) {
      const pub = await publisher({ eventShape, topic: 'kv@model' });
      const h = listen(pub);
      await connected(h);
      // A PUB drops messages until the subscription reaches it; a first seq of 0 is not guaranteed,
      // so the test relies on replay from 0 rather than on timing.
      const engine = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 7 });
      const expected = await drive(engine, pub, 200);
      await caughtUp(h, pub);
      expect(json(h.received)).toEqual(json(expected));
      expect(h.state.hashes(WORKER)).toEqual(sortedHashes(engine.cached.keys()));
      expect(h.listener.stats().batches_lost).toBe(0);
    }
  });

  it("passes each batch's engine timestamp on, the basis of ingest lag", async () => {
    const pub = await publisher();
    const stamps: number[] = [];
    const h = listen(pub, {
      onEvents: (events, meta) => {
        stamps.push(meta.ts);
        h.state.apply(events);
      },
    });
    await connected(h);
    const before = Date.now() / 1000;
    await drive(new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 3 }), pub, 20);
    const after = Date.now() / 1000;
    await caughtUp(h, pub);
    expect(stamps.length).toBeGreaterThan(0);
    for (const ts of stamps) {
      expect(ts).toBeGreaterThanOrEqual(before);
      expect(ts).toBeLessThanOrEqual(after);
    }
  });

  it('replays from 0 when the first live batch is not seq 0 (late joiner)', async () => {
    const pub = await publisher();
    const engine = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 3 });
    const early = await drive(engine, pub, 25); // nobody listening: lost to PUB/SUB, kept in the ring
    const h = listen(pub);
    await connected(h);
    const late = await drive(engine, pub, 5);
    await caughtUp(h, pub);
    expect(json(h.received)).toEqual(json([...early, ...late]));
    const stats = h.listener.stats();
    expect(stats.replays).toBeGreaterThanOrEqual(1);
    expect(stats.replayed_batches).toBeGreaterThanOrEqual(25);
    expect(stats.batches_lost).toBe(0);
  });

  it('detects dropped batches as a gap and fills it by replay (newer vLLM reply layout)', async () => {
    const pub = await publisher({ replayWithTopic: true, topic: 'kv' });
    const h = listen(pub);
    await connected(h);
    const engine = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 5 });
    const expected: RouterEvent[] = [];
    // Each hole is published after the listener caught up, so each is its own gap and replay.
    for (const holeSize of [2, 3, 1]) {
      expected.push(...(await drive(engine, pub, 10)));
      await caughtUp(h, pub);
      expected.push(...(await drive(engine, pub, holeSize, () => ({ dropOnWire: true }))));
      expected.push(...(await drive(engine, pub, 5)));
      await caughtUp(h, pub);
    }
    expect(json(h.received)).toEqual(json(expected));
    expect(h.state.hashes(WORKER)).toEqual(sortedHashes(engine.cached.keys()));
    const stats = h.listener.stats();
    expect(stats.gaps).toBe(3);
    expect(stats.replays).toBe(3);
    expect(stats.batches_lost).toBe(0);
  });

  it('counts a gap as lost when there is no replay endpoint, and keeps going', async () => {
    const pub = await publisher({ replayEndpoint: null });
    const h = listen(pub);
    await connected(h);
    // Prime: wait until the listener sees live traffic so later seqs are not a late-join gap.
    await waitFor(() => {
      void pub.publish([{ type: 'AllBlocksCleared' }]);
      return h.listener.stats().batches_applied > 0;
    }, 'first live batch');
    const before = h.listener.stats().batches_lost;
    await pub.publish([{ type: 'AllBlocksCleared' }], { dropOnWire: true });
    await pub.publish([{ type: 'AllBlocksCleared' }], { dropOnWire: true });
    await pub.publish([{ type: 'AllBlocksCleared' }]);
    await caughtUp(h, pub);
    expect(h.listener.stats().batches_lost - before).toBe(2);
  });

  it('treats a seq reset as an engine restart: clears the worker and rebuilds (Dynamo 1.6.1 ignores seq resets)', async () => {
    const pub1 = await VllmZmqPublisher.bind();
    const h = listen(pub1);
    await connected(h);
    const before = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 9 });
    await drive(before, pub1, 60);
    await caughtUp(h, pub1);
    expect(h.state.hashes(WORKER).length).toBeGreaterThan(0);
    const { endpoint, replayEndpoint } = pub1;
    await pub1.close();
    await waitFor(() => !h.listener.status().connected, 'listener disconnected');

    // The same engine endpoints, a new process: seq from 0 and an empty cache.
    const pub2Ready = await eventually(
      () => VllmZmqPublisher.bind({ endpoint, replayEndpoint }),
      'rebind after restart',
    );
    cleanup.push(() => pub2Ready.close());
    await connected(h);
    const after = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 10 });
    await drive(after, pub2Ready, 20);
    await caughtUp(h, pub2Ready);
    expect(h.clears).toBeGreaterThanOrEqual(1);
    expect(h.listener.stats().restarts).toBeGreaterThanOrEqual(1);
    expect(h.state.hashes(WORKER)).toEqual(sortedHashes(after.cached.keys()));
  });

  it('a slow consumer whose PUB drops batches catches up by replay', async () => {
    const pub = await publisher({ sendHighWaterMark: 4, sendBufferSize: 4096 });
    const h = listen(pub, { receiveHighWaterMark: 4, receiveBufferSize: 4096 });
    await connected(h);
    const engine = new TestEngine({ blockSize: BLOCK_SIZE, capacity: 48, seed: 21 });
    await drive(engine, pub, 3);
    await caughtUp(h, pub);
    h.listener.pause();
    const expectedTail = await drive(engine, pub, 400);
    h.listener.resume();
    // The batches right after resume may still meet a full pipe and be dropped too; a live engine
    // keeps publishing, and its next delivered batch exposes the gap.
    await eventually(async () => {
      await drive(engine, pub, 1);
      const atHead = () =>
        h.listener.status().next_seq === pub.sequence && h.listener.status().state === 'active';
      return waitFor(atHead, 'head', 300).catch(() => null);
    }, 'caught up while the engine keeps publishing');
    await caughtUp(h, pub);
    const stats = h.listener.stats();
    expect(stats.gaps).toBeGreaterThanOrEqual(1);
    expect(stats.replayed_batches).toBeGreaterThan(0);
    expect(stats.batches_lost).toBe(0);
    expect(expectedTail.length).toBeGreaterThan(0);
    expect(h.state.hashes(WORKER)).toEqual(sortedHashes(engine.cached.keys()));
  });

  it('bounds a replay in time: an engine that never answers costs a counted loss (Dynamo 1.6.1 has no timeout)', async () => {
    const pub = await publisher();
    const silent = new Router({ linger: 0 });
    await silent.bind('tcp://127.0.0.1:*');
    cleanup.push(async () => silent.close());
    const h = listen(
      { endpoint: pub.endpoint, replayEndpoint: silent.lastEndpoint },
      { replayTimeoutMs: 300 },
    );
    await connected(h);
    await pub.publish([{ type: 'AllBlocksCleared' }], { dropOnWire: true });
    await pub.publish([{ type: 'AllBlocksCleared' }]);
    await waitFor(() => h.listener.stats().replays_failed === 1, 'replay timeout');
    await caughtUp(h, pub);
    expect(h.listener.status().last_error).toMatch(/timed out/);
    await pub.publish([{ type: 'AllBlocksCleared' }]);
    await caughtUp(h, pub);
    expect(h.listener.stats().batches_lost).toBe(1);
  });

  it('drops malformed messages by reason and consumes their seq without a replay (Dynamo 1.6.1 replays them)', async () => {
    const pub = await publisher();
    const h = listen(pub);
    await connected(h);
    await waitFor(() => {
      void pub.publish([]);
      return h.listener.stats().batches_applied > 0;
    }, 'first live batch');
    await caughtUp(h, pub);
    const base = h.listener.stats();
    const topic = Buffer.from('');
    const seqFrame = () => encodeSeq(pub.sequence);
    await pub.sendFrames([Buffer.from('only-two'), encodeSeq(0n)]);
    await pub.sendFrames([topic, encodeSeq(0n), Buffer.from([0x90]), Buffer.from('x')]);
    await pub.sendFrames([topic, Buffer.from([1, 2, 3]), Buffer.from([0x90])]);
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) & 0xff;
    await pub.publishPayload(random);
    const valid = packWireValue([1.0, [['BlockRemoved', [1n, 2n]]], 0]);
    await pub.publishPayload(valid.subarray(0, valid.length - 3));
    await pub.publishPayload(packWireValue({ ts: 'yesterday', events: 'none' }));
    await pub.publishPayload(Buffer.alloc(10 * 1024 * 1024, 0x91));
    await pub.publishPayload(
      packWireValue([
        1.0,
        [
          ['FutureEvent', 1],
          ['BlockRemoved', [5n]],
        ],
        0,
      ]),
    );
    expect(seqFrame().length).toBe(8);
    await caughtUp(h, pub);
    const s = h.listener.stats();
    const d = (k: keyof typeof s.dropped_messages) => s.dropped_messages[k] - base.dropped_messages[k];
    expect(d('frame_count')).toBe(2);
    expect(d('seq_length')).toBe(1);
    expect(d('invalid_msgpack')).toBeGreaterThanOrEqual(1);
    expect(d('invalid_msgpack') + d('batch_shape')).toBe(3);
    expect(d('payload_too_large')).toBe(1);
    expect(s.dropped_events.unknown_tag - base.dropped_events.unknown_tag).toBe(1);
    expect(h.received.at(-1)?.event.data).toEqual({ removed: { block_hashes: [5n] } });
    // An undecodable batch still consumes its seq: replaying it would return the same bytes
    // (Dynamo 1.6.1 keeps the watermark and re-requests it).
    expect(s.replays).toBe(base.replays);
    expect(h.listener.status().state).toBe('active');
  });

  it('reports pending while the engine is unreachable and active once it binds (Dynamo 1.6.1 says active)', async () => {
    const probe = await VllmZmqPublisher.bind({ replayEndpoint: null });
    const endpoint = probe.endpoint;
    await probe.close();
    const h = listen(
      { endpoint, replayEndpoint: null },
      { reconnectIntervalMs: 20, reconnectMaxIntervalMs: 50 },
    );
    expect(h.listener.status().state).toBe('pending');
    const ready = await eventually(() => VllmZmqPublisher.bind({ endpoint, replayEndpoint: null }), 'bind');
    cleanup.push(() => ready.close());
    await waitFor(() => h.listener.status().state === 'active', 'active');
  });

  it('reports failed with the error for an endpoint ZMQ rejects, and retries without crashing', async () => {
    const h = listen(
      { endpoint: 'tcp://127.0.0.1:notaport', replayEndpoint: null },
      { reconnectIntervalMs: 10 },
    );
    await waitFor(() => h.listener.status().state === 'failed', 'failed');
    expect(h.listener.status().last_error).toBeTruthy();
  });
});
