import {
  encodeRouterEventMsgpack,
  type RouterEvent,
  routerEventToValue,
  stringifyJsonExact,
} from '@kvindex/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { engineOutputToWireEvents } from '../engine-output.ts';
import { BlockState, sortedHashes } from '../test-support/block-state.ts';
import { startNatsServer } from '../test-support/nats-server.ts';
import { TestEngine } from '../test-support/test-engine.ts';
import { waitFor } from '../test-support/wait-for.ts';
import { convertWireEvent } from '../vllm/convert-event.ts';
import { DynamoNatsPublisher } from './dynamo-nats-publisher.ts';
import { DynamoNatsSubscriber } from './dynamo-nats-subscriber.ts';
import { encodeEventEnvelope } from './event-envelope.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

let component = 0;
/** A fresh subject per test so tests sharing the run's server do not see each other. */
function plane(servers: string) {
  return { servers, namespace: 'kvtest', component: `c${++component}-${process.pid}` };
}

function subscribe(where: ReturnType<typeof plane>) {
  const h = { state: new BlockState(), received: [] as RouterEvent[], clears: 0 };
  const sub = new DynamoNatsSubscriber({
    ...where,
    reconnectTimeWaitMs: 50,
    onEvents: (events) => {
      h.received.push(...events);
      h.state.apply(events);
    },
    onClear: (worker) => {
      h.clears++;
      h.state.clear(worker);
    },
  });
  cleanup.push(() => sub.stop());
  return { ...h, sub, h };
}

async function publisher(where: ReturnType<typeof plane>, publisherId?: bigint) {
  const pub = await DynamoNatsPublisher.connect({ ...where, publisherId });
  cleanup.push(() => pub.close());
  return pub;
}

/** Engine steps as the RouterEvents a Dynamo worker would publish (event_id per batch). */
function engineEvents(engine: TestEngine, workerId: bigint, steps: number, firstId = 0n): RouterEvent[] {
  const out: RouterEvent[] = [];
  for (let i = 0; i < steps; i++) {
    const eventId = firstId + BigInt(i);
    for (const w of engineOutputToWireEvents(engine.step())) {
      const c = convertWireEvent(w, { workerId, dpRank: 0, eventId, blockSize: engine.blockSize });
      if (!c.ok) throw new Error(c.reason);
      out.push(c.event);
    }
  }
  return out;
}

const json = (events: RouterEvent[]) => events.map((e) => stringifyJsonExact(routerEventToValue(e)));

describe('Dynamo NATS event plane over a real nats-server', () => {
  it('delivers EventEnvelopes in order; the index equals the engines', async () => {
    const where = plane(inject('natsUrl'));
    const { sub, h } = subscribe(where);
    await sub.start();
    const pub = await publisher(where);
    const engines = [1n, 2n].map((id) => ({
      id,
      engine: new TestEngine({ blockSize: 4, capacity: 40, seed: Number(id) }),
    }));
    const sent: RouterEvent[] = [];
    for (const { id, engine } of engines) sent.push(...engineEvents(engine, id, 80));
    for (const e of sent) pub.publish(e);
    await pub.flush();
    await waitFor(() => h.received.length === sent.length, `${sent.length} events`);
    expect(json(h.received)).toEqual(json(sent));
    for (const { id, engine } of engines) {
      expect(h.state.hashes({ worker_id: id, dp_rank: 0 })).toEqual(sortedHashes(engine.cached.keys()));
    }
    const stats = sub.stats();
    expect(stats.gaps + stats.batches_lost + stats.dropped_messages.stale).toBe(0);
    expect(sub.status().state).toBe('active');
  });

  it('drops stale event ids, counts gaps and lost envelopes, and clears a worker whose publisher restarted', async () => {
    const where = plane(inject('natsUrl'));
    const { sub, h } = subscribe(where);
    await sub.start();
    const raw = await publisher(where);
    const worker = { worker_id: 5n, dp_rank: 0 };
    const envelope = (publisherId: bigint, sequence: bigint, eventId: bigint, hash: bigint) =>
      encodeEventEnvelope({
        publisher_id: publisherId,
        sequence,
        published_at: 0n,
        topic: 't',
        payload: encodeRouterEventMsgpack({
          worker_id: worker.worker_id,
          storage_tier: 'device',
          event: {
            event_id: eventId,
            dp_rank: 0,
            data: { stored: { parent_hash: null, blocks: [{ block_hash: hash, tokens_hash: hash }] } },
          },
        }),
      });
    raw.publishRaw(envelope(77n, 0n, 10n, 1n));
    raw.publishRaw(envelope(77n, 1n, 10n, 2n)); // same batch: same event_id
    raw.publishRaw(envelope(77n, 2n, 9n, 3n)); // stale
    raw.publishRaw(envelope(77n, 5n, 13n, 4n)); // 2 envelopes lost, event-id gap
    await raw.flush();
    await waitFor(() => sub.stats().messages === 4, '4 envelopes');
    expect(h.state.hashes(worker)).toEqual([1n, 2n, 4n]);
    expect(sub.stats()).toMatchObject({ gaps: 1, batches_lost: 2, dropped_messages: { stale: 1 } });

    // Same publisher id, sequence back to 0: a restarted process; its blocks start over.
    raw.publishRaw(envelope(77n, 0n, 0n, 8n));
    // A new publisher id for the same worker with low event ids is also a new process.
    raw.publishRaw(envelope(78n, 0n, 0n, 9n));
    await raw.flush();
    await waitFor(() => sub.stats().messages === 6, '6 envelopes');
    expect(h.clears).toBe(2);
    expect(sub.stats().restarts).toBe(2);
    expect(h.state.hashes(worker)).toEqual([9n]);
  });

  it('drops malformed envelopes by reason and keeps running', async () => {
    const where = plane(inject('natsUrl'));
    const { sub, h } = subscribe(where);
    await sub.start();
    const pub = await publisher(where);
    const good = encodeEventEnvelope({
      publisher_id: 1n,
      sequence: 0n,
      published_at: 0n,
      topic: '',
      payload: encodeRouterEventMsgpack({
        worker_id: 1n,
        storage_tier: 'device',
        event: { event_id: 0n, dp_rank: 0, data: 'cleared' },
      }),
    });
    pub.publishRaw(Buffer.from([0xc1, 0x00, 0xff, 0x13]));
    pub.publishRaw(good.subarray(0, good.length - 4));
    pub.publishRaw(
      encodeEventEnvelope({
        publisher_id: 2n,
        sequence: 0n,
        published_at: 0n,
        topic: '',
        payload: Buffer.from('nope'),
      }),
    );
    pub.publishRaw(Buffer.from([0x93, 0x01, 0x02, 0x03]));
    pub.publishRaw(good);
    await pub.flush();
    await waitFor(() => h.received.length === 1, 'the good envelope');
    const s = sub.stats();
    expect(s.messages).toBe(5);
    expect(s.dropped_messages.invalid_msgpack).toBe(2);
    expect(s.dropped_messages.batch_shape).toBe(1);
    expect(s.dropped_events.event_shape).toBe(1);
    expect(h.received[0]!.event.data).toBe('cleared');
  });

  it('survives nats-server being killed and restarted: reconnects and resumes delivery', async () => {
    const server = await startNatsServer(inject('natsServerBin'));
    let current = server;
    cleanup.push(() => current.stop());
    const where = plane(server.url);
    const { sub, h } = subscribe(where);
    await sub.start();
    const pub = await publisher(where);
    const e = (id: bigint): RouterEvent => ({
      worker_id: 3n,
      storage_tier: 'device',
      event: { event_id: id, dp_rank: 0, data: { removed: { block_hashes: [id] } } },
    });
    pub.publish(e(0n));
    await pub.flush();
    await waitFor(() => h.received.length === 1, 'first event');

    server.process.kill('SIGKILL');
    await waitFor(() => sub.status().state === 'reconnecting', 'subscriber notices the outage');
    current = await startNatsServer(inject('natsServerBin'), server.port);
    await waitFor(
      () => sub.status().state === 'active' && sub.stats().reconnects >= 1,
      'subscriber reconnected',
    );
    // The publisher reconnects on its own; publish until the resubscribed plane delivers.
    let next = 1n;
    await waitFor(
      () => {
        pub.publish(e(next++));
        return h.received.length >= 2;
      },
      'delivery after restart',
      10_000,
      50,
    );
    expect(h.received.every((r, i) => i === 0 || r.event.event_id > h.received[i - 1]!.event.event_id)).toBe(
      true,
    );
  });
});
