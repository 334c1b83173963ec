import { randomBytes } from 'node:crypto';
import { encodeRouterEventMsgpack, type RouterEvent } from '@kvindex/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeEventEnvelope, kvEventsSubject } from './event-envelope.ts';

export interface DynamoNatsPublisherOptions {
  servers: string | string[];
  namespace: string;
  component: string;
  /** Identifies this publisher process; random per process by default, as a new process would be. */
  publisherId?: bigint;
  topic?: string;
}

/**
 * Publishes RouterEvents on Dynamo's NATS event plane, one `EventEnvelope` per event, with the
 * envelope sequence counting from 0 for this publisher. For tests, the simulator and the demo.
 */
export class DynamoNatsPublisher {
  readonly subject: string;
  readonly publisherId: bigint;
  private readonly nc: NatsConnection;
  private readonly topic: string;
  private nextSequence = 0n;

  private constructor(nc: NatsConnection, options: DynamoNatsPublisherOptions) {
    this.nc = nc;
    this.subject = kvEventsSubject(options.namespace, options.component);
    this.publisherId = options.publisherId ?? randomBytes(8).readBigUInt64BE(0);
    this.topic = options.topic ?? 'kv-events';
  }

  static async connect(options: DynamoNatsPublisherOptions): Promise<DynamoNatsPublisher> {
    const nc = await connect({
      servers: options.servers,
      name: 'kvindex-kv-publisher',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
    });
    return new DynamoNatsPublisher(nc, options);
  }

  get sequence(): bigint {
    return this.nextSequence;
  }

  /** Publishes one event; returns the envelope sequence it carries. */
  publish(event: RouterEvent): bigint {
    const sequence = this.nextSequence++;
    this.nc.publish(
      this.subject,
      encodeEventEnvelope({
        publisher_id: this.publisherId,
        sequence,
        published_at: BigInt(Date.now()),
        topic: this.topic,
        payload: encodeRouterEventMsgpack(event),
      }),
    );
    return sequence;
  }

  /** Sends raw bytes on the subject (for malformed-input tests). */
  publishRaw(data: Uint8Array): void {
    this.nc.publish(this.subject, data);
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }
}
