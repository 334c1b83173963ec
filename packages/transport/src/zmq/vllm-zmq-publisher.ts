import { Publisher, Router } from 'zeromq';
import { type EncodeOptions, encodeVllmBatch, type VllmWireEvent } from '../vllm/wire-encode.ts';
import { BatchRing } from './batch-ring.ts';
import { decodeSeq, encodeSeq, REPLAY_END_SEQ } from './seq-frame.ts';

export interface VllmZmqPublisherOptions extends Omit<EncodeOptions, 'ts'> {
  /** Bind address of the PUB socket; an ephemeral loopback port by default. */
  endpoint?: string;
  /** Bind address of the ROUTER replay socket; null disables replay. */
  replayEndpoint?: string | null;
  /** The first frame of every message. */
  topic?: string;
  /** Batches kept for replay (vLLM's default is 10,000). */
  ringSize?: number;
  /** Reply with vLLM's newer `[topic, seq, payload]` layout instead of `[seq, payload]`. */
  replayWithTopic?: boolean;
  sendHighWaterMark?: number;
  /** SO_SNDBUF; small values make a slow subscriber overflow quickly (tests). */
  sendBufferSize?: number;
}

export interface PublishOptions {
  /** Keep the batch for replay but never send it live: a batch lost on the wire. */
  dropOnWire?: boolean;
}

/**
 * A vLLM-compatible KV event publisher: PUB bound, seq counting batches from 0 for this process,
 * and a ROUTER replay socket answering `["", start_seq]` from a ring of recent batches, ended by
 * seq 2^64-1 with an empty payload. What engines do, for the simulator, tests and the demo.
 */
export class VllmZmqPublisher {
  readonly topic: Buffer;
  private readonly pub: Publisher;
  private readonly router: Router | null;
  private readonly ring: BatchRing;
  private readonly options: VllmZmqPublisherOptions;
  private nextSeq = 0n;
  private sendChain: Promise<void> = Promise.resolve();
  private replayLoop: Promise<void> | null = null;
  private closed = false;
  replaysServed = 0;

  private constructor(options: VllmZmqPublisherOptions) {
    this.options = options;
    this.topic = Buffer.from(options.topic ?? '', 'utf8');
    this.pub = new Publisher({ linger: 0, sendHighWaterMark: options.sendHighWaterMark ?? 1000 });
    if (options.sendBufferSize !== undefined) this.pub.sendBufferSize = options.sendBufferSize;
    this.router = options.replayEndpoint === null ? null : new Router({ linger: 0 });
    this.ring = new BatchRing(options.ringSize ?? 10_000);
  }

  static async bind(options: VllmZmqPublisherOptions = {}): Promise<VllmZmqPublisher> {
    const publisher = new VllmZmqPublisher(options);
    try {
      await publisher.pub.bind(options.endpoint ?? 'tcp://127.0.0.1:*');
      if (publisher.router) {
        await publisher.router.bind(options.replayEndpoint ?? 'tcp://127.0.0.1:*');
        publisher.replayLoop = publisher.serveReplays(publisher.router);
      }
    } catch (err) {
      publisher.pub.close();
      publisher.router?.close();
      throw err;
    }
    return publisher;
  }

  /** The PUB socket's bound address (with the ephemeral port resolved). */
  get endpoint(): string {
    return this.pub.lastEndpoint!;
  }

  get replayEndpoint(): string | null {
    return this.router?.lastEndpoint ?? null;
  }

  /** The seq the next batch will carry. */
  get sequence(): bigint {
    return this.nextSeq;
  }

  /** Publishes one batch of events; resolves with its seq once handed to the socket. */
  publish(events: readonly VllmWireEvent[], options: PublishOptions = {}): Promise<bigint> {
    const payload = encodeVllmBatch(events, { ...this.options, dpRank: this.options.dpRank ?? null });
    return this.publishPayload(payload, options);
  }

  /** Publishes a payload as the next batch (any bytes: tests use this for malformed batches). */
  publishPayload(payload: Buffer, options: PublishOptions = {}): Promise<bigint> {
    const seq = this.nextSeq++;
    this.ring.push(seq, payload);
    if (options.dropOnWire) return Promise.resolve(seq);
    return this.sendFrames([this.topic, encodeSeq(seq), payload]).then(() => seq);
  }

  /** Sends frames as they are, outside the seq and the ring (for malformed-message tests). */
  sendFrames(frames: Buffer[]): Promise<void> {
    const next = this.sendChain.then(() => this.pub.send(frames));
    this.sendChain = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sendChain;
    this.pub.close();
    this.router?.close();
    await this.replayLoop;
  }

  private async serveReplays(router: Router): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await router.receive();
      } catch {
        return; // closed
      }
      const identity = frames[0]!;
      const start = frames.length >= 3 ? decodeSeq(frames[frames.length - 1]!) : null;
      try {
        if (start !== null) {
          for (const entry of this.ring.from(start)) {
            await router.send(this.replyFrames(identity, entry.seq, entry.payload));
          }
        }
        await router.send(this.replyFrames(identity, REPLAY_END_SEQ, Buffer.alloc(0)));
        this.replaysServed++;
      } catch {
        if (this.closed) return;
      }
    }
  }

  private replyFrames(identity: Buffer, seq: bigint, payload: Buffer): Buffer[] {
    return this.options.replayWithTopic
      ? [identity, Buffer.alloc(0), this.topic, encodeSeq(seq), payload]
      : [identity, Buffer.alloc(0), encodeSeq(seq), payload];
  }
}
