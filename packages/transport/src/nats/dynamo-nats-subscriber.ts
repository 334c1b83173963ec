import {
  DecodeError,
  decodeRouterEventMsgpack,
  type RouterEvent,
  type WorkerKey,
  workerKeyString,
} from '@kvindex/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { copyStats, type IngestStats, type Logger, newIngestStats } from '../stats.ts';
import { decodeEventEnvelope, kvEventsSubject } from './event-envelope.ts';

export type NatsSubscriberState = 'pending' | 'active' | 'reconnecting' | 'stopped';

export interface NatsSubscriberStatus {
  subject: string;
  state: NatsSubscriberState;
  last_error: string | null;
}

export interface NatsEventMeta {
  publisherId: bigint;
  sequence: bigint;
}

export interface DynamoNatsSubscriberOptions {
  /** NATS server URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  namespace: string;
  component: string;
  onEvents: (events: RouterEvent[], meta: NatsEventMeta) => void;
  /** Called for every rank a publisher fed when that publisher restarted. */
  onClear?: (worker: WorkerKey, reason: 'restart') => void;
  logger?: Logger;
  maxPayloadBytes?: number;
  /** Delay between reconnect attempts (the client adds jitter); it never stops trying. */
  reconnectTimeWaitMs?: number;
}

interface PublisherCursor {
  sequence: bigint;
  workers: Set<string>;
}

/**
 * Subscribes to Dynamo's NATS Core KV event plane: `EventEnvelope`s carrying one RouterEvent
 * each. Per (worker, dp_rank) the event_id cursor drops stale events and counts gaps; per
 * publisher the envelope sequence counts lost messages, and a sequence that goes backwards is a
 * restarted publisher whose workers are cleared. Gaps are not recovered (Dynamo asks the worker's
 * local indexer; that is out of scope here).
 */
export class DynamoNatsSubscriber {
  readonly subject: string;
  private readonly options: DynamoNatsSubscriberOptions;
  private readonly counters: IngestStats = newIngestStats();
  private readonly publishers = new Map<bigint, PublisherCursor>();
  private readonly eventCursors = new Map<string, bigint>();
  private readonly ranksByWorker = new Map<string, WorkerKey>();
  private readonly publisherOfWorker = new Map<string, bigint>();
  private nc: NatsConnection | null = null;
  private state: NatsSubscriberState = 'pending';
  private lastError: string | null = null;
  private statusLoop: Promise<void> | null = null;

  constructor(options: DynamoNatsSubscriberOptions) {
    this.options = options;
    this.subject = kvEventsSubject(options.namespace, options.component);
  }

  /** Connects (waiting for a first server if none is up yet) and subscribes. */
  async start(): Promise<void> {
    if (this.nc) throw new Error('subscriber already started');
    const nc = await connect({
      servers: this.options.servers,
      name: 'kvindex-kv-events',
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.options.reconnectTimeWaitMs ?? 250,
      waitOnFirstConnect: true,
    });
    this.nc = nc;
    this.statusLoop = this.watchStatus(nc);
    nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err) {
          this.lastError = err.message;
          return;
        }
        this.onMessage(msg.data);
      },
    });
    await nc.flush();
    if (this.state === 'pending') this.state = 'active';
  }

  /** Drains the subscription (delivers what is in flight) and closes the connection. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const nc = this.nc;
    if (!nc) return;
    try {
      if (!nc.isClosed()) await nc.drain();
    } catch (err) {
      this.lastError = (err as Error).message;
      if (!nc.isClosed()) await nc.close();
    }
    await this.statusLoop;
  }

  status(): NatsSubscriberStatus {
    return { subject: this.subject, state: this.state, last_error: this.lastError };
  }

  stats(): IngestStats {
    return copyStats(this.counters);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.state === 'stopped') continue;
      switch (s.type) {
        case 'disconnect':
        case 'reconnecting':
          this.state = 'reconnecting';
          break;
        case 'reconnect':
          this.state = 'active';
          this.counters.reconnects++;
          break;
        case 'error':
          this.lastError = String((s as { error?: unknown }).error ?? 'server error');
          break;
      }
    }
  }

  /** One envelope; never throws. */
  private onMessage(data: Uint8Array): void {
    const stats = this.counters;
    stats.messages++;
    if (data.length > (this.options.maxPayloadBytes ?? 8 * 1024 * 1024)) {
      stats.dropped_messages.payload_too_large++;
      return;
    }
    let envelope: ReturnType<typeof decodeEventEnvelope>;
    try {
      envelope = decodeEventEnvelope(data);
    } catch (err) {
      const invalid = err instanceof DecodeError && err.message.includes('invalid msgpack');
      if (invalid) stats.dropped_messages.invalid_msgpack++;
      else stats.dropped_messages.batch_shape++;
      this.warn('kv event envelope dropped', err);
      return;
    }
    const publisher = this.trackPublisher(envelope.publisher_id, envelope.sequence);
    if (!publisher) return;
    let event: RouterEvent;
    try {
      event = decodeRouterEventMsgpack(envelope.payload);
    } catch (err) {
      stats.dropped_events.event_shape++;
      this.warn('kv event payload dropped', err);
      return;
    }
    const worker = { worker_id: event.worker_id, dp_rank: event.event.dp_rank };
    const key = workerKeyString(worker);
    const previous = this.publisherOfWorker.get(key);
    if (previous !== undefined && previous !== envelope.publisher_id) {
      // The worker now speaks through another publisher: a restarted process with fresh event ids.
      this.publishers.get(previous)?.workers.delete(key);
      this.restartWorker(key, worker, `publisher ${previous} -> ${envelope.publisher_id}`);
    }
    this.publisherOfWorker.set(key, envelope.publisher_id);
    this.ranksByWorker.set(key, worker);
    publisher.workers.add(key);
    const last = this.eventCursors.get(key);
    const id = event.event.event_id;
    if (last !== undefined) {
      // One engine batch becomes several envelopes sharing an event_id, so equal is not stale.
      if (id < last) {
        stats.dropped_messages.stale++;
        return;
      }
      if (id > last + 1n) stats.gaps++;
    }
    this.eventCursors.set(key, id);
    stats.batches_applied++;
    stats.events++;
    const data0 = event.event.data;
    if (typeof data0 === 'object') {
      stats.blocks += 'stored' in data0 ? data0.stored.blocks.length : data0.removed.block_hashes.length;
    }
    try {
      this.options.onEvents([event], { publisherId: envelope.publisher_id, sequence: envelope.sequence });
    } catch (err) {
      stats.dropped_events.callback_error++;
      this.lastError = `onEvents threw: ${(err as Error).message}`;
    }
  }

  /** Sequence bookkeeping per publisher; null when the envelope is stale. */
  private trackPublisher(publisherId: bigint, sequence: bigint): PublisherCursor | null {
    const stats = this.counters;
    const cursor = this.publishers.get(publisherId);
    if (!cursor) {
      const fresh = { sequence, workers: new Set<string>() };
      this.publishers.set(publisherId, fresh);
      return fresh;
    }
    if (sequence <= cursor.sequence) {
      // NATS Core never redelivers, so a sequence that does not advance is a new process.
      const reason = `publisher ${publisherId} sequence ${cursor.sequence} -> ${sequence}`;
      for (const key of cursor.workers) this.restartWorker(key, this.ranksByWorker.get(key)!, reason);
      cursor.workers.clear();
    } else if (sequence > cursor.sequence + 1n) {
      stats.batches_lost += Number(sequence - cursor.sequence - 1n);
    }
    cursor.sequence = sequence;
    return cursor;
  }

  private restartWorker(key: string, worker: WorkerKey, reason: string): void {
    this.counters.restarts++;
    this.eventCursors.delete(key);
    this.logger?.warn('kv event publisher restarted; clearing worker', { worker: key, reason });
    try {
      this.options.onClear?.(worker, 'restart');
    } catch (err) {
      this.lastError = `onClear threw: ${(err as Error).message}`;
    }
  }

  private get logger(): Logger | undefined {
    return this.options.logger;
  }

  private warn(msg: string, err: unknown): void {
    this.lastError = (err as Error).message;
    this.logger?.warn(msg, { subject: this.subject, error: this.lastError });
  }
}
