import { Packr } from 'msgpackr';
import { Router, XPublisher } from 'zeromq';

/**
 * A test-side vLLM wire peer: an XPUB socket (so the test knows when each indexer's SUB has
 * subscribed, instead of sleeping past the slow-joiner window) and a ROUTER that answers replay
 * requests from what was "sent". It sends any frames a test asks for, malformed ones included.
 * It is a peer for the services under test, not a stand-in for an engine: the mocker and the
 * transport publishers are the engines.
 */
export class WirePeer {
  readonly endpoint: string;
  readonly replayEndpoint: string;
  /** Start seqs of the replay requests received, in order. */
  readonly replayRequests: bigint[] = [];
  private readonly pub: XPublisher;
  private readonly router: Router;
  private readonly history: Array<{ seq: bigint; payload: Buffer }> = [];
  private subscriptions = 0;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly topic: Buffer;
  private readonly replyWithTopic: boolean;
  private nextSeq = 0n;
  private closed = false;

  private constructor(pub: XPublisher, router: Router, topic: string, replyWithTopic: boolean) {
    this.pub = pub;
    this.router = router;
    this.endpoint = pub.lastEndpoint!;
    this.replayEndpoint = router.lastEndpoint!;
    this.topic = Buffer.from(topic, 'utf8');
    this.replyWithTopic = replyWithTopic;
    void this.watchSubscriptions();
    void this.serveReplays();
  }

  static async start(options: { topic?: string; replyWithTopic?: boolean } = {}): Promise<WirePeer> {
    const pub = new XPublisher({ linger: 0 });
    pub.verbosity = 'allSubs';
    const router = new Router({ linger: 0 });
    await pub.bind('tcp://127.0.0.1:*');
    await router.bind('tcp://127.0.0.1:*');
    return new WirePeer(pub, router, options.topic ?? '', options.replyWithTopic ?? false);
  }

  /** Resolves once `count` subscriptions have arrived (each indexer's listener subscribes once). */
  waitForSubscribers(count: number, timeoutMs = 15_000): Promise<void> {
    if (this.subscriptions >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.subscriptions}/${count} subscribers on ${this.endpoint}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** The seq the next `send` will use. */
  get sequence(): bigint {
    return this.nextSeq;
  }

  /**
   * Sends one batch payload as `[topic, seq, payload]` and keeps it for replay. `seq` overrides
   * the running counter (which then continues after it); `lost` keeps it for replay only.
   */
  async send(
    payload: Buffer,
    options: { seq?: bigint; lost?: boolean; keep?: boolean } = {},
  ): Promise<bigint> {
    const seq = options.seq ?? this.nextSeq;
    this.nextSeq = seq + 1n;
    if (options.keep !== false) this.history.push({ seq, payload });
    if (!options.lost) await this.pub.send([this.topic, seqFrame(seq), payload]);
    return seq;
  }

  /** Frames exactly as given, outside seq numbering and replay. */
  async sendFrames(frames: Buffer[]): Promise<void> {
    await this.pub.send(frames);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pub.close();
    this.router.close();
  }

  private async watchSubscriptions(): Promise<void> {
    try {
      for await (const [message] of this.pub) {
        if (message?.[0] === 1) {
          this.subscriptions++;
          for (const w of this.waiters.splice(0)) {
            if (this.subscriptions >= w.count) w.resolve();
            else this.waiters.push(w);
          }
        }
      }
    } catch {
      // Closed.
    }
  }

  private async serveReplays(): Promise<void> {
    try {
      for await (const frames of this.router) {
        const identity = frames[0]!;
        const startFrame = frames[frames.length - 1]!;
        if (startFrame.length !== 8) continue;
        const start = startFrame.readBigUInt64BE(0);
        this.replayRequests.push(start);
        const entries = this.history.filter((e) => e.seq >= start).sort((a, b) => (a.seq < b.seq ? -1 : 1));
        for (const e of entries) await this.router.send(this.reply(identity, e.seq, e.payload));
        await this.router.send(this.reply(identity, 0xffff_ffff_ffff_ffffn, Buffer.alloc(0)));
      }
    } catch {
      // Closed.
    }
  }

  private reply(identity: Buffer, seq: bigint, payload: Buffer): Buffer[] {
    return this.replyWithTopic
      ? [identity, Buffer.alloc(0), this.topic, seqFrame(seq), payload]
      : [identity, Buffer.alloc(0), seqFrame(seq), payload];
  }
}

export function seqFrame(seq: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, seq));
  return b;
}

const packr = new Packr({ useRecords: false, variableMapSize: true, int64AsType: 'bigint' });

/**
 * msgpack for hand-built wire values: bigints above 32 bits stay 64-bit integers, small ones
 * become plain ints (as Python writes them), and byte strings stay bin (hash-as-bytes cases).
 */
export function packWire(value: unknown): Buffer {
  return packr.pack(normalize(value));
}

function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= -0x8000_0000n && value <= 0xffff_ffffn ? Number(value) : value;
  }
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}
