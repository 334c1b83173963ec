import type { RouterEvent, WorkerKey } from '@kvindex/core';
import { Subscriber } from 'zeromq';
import { copyStats, type IngestStats, type Logger, newIngestStats } from '../stats.ts';
import { VllmBatchDecoder } from '../vllm/batch-decoder.ts';
import { requestReplay } from './replay-client.ts';
import { defaultReplayLimiter, type ReplayLimiter } from './replay-limiter.ts';
import { decodeSeq } from './seq-frame.ts';

export type ListenerState = 'pending' | 'active' | 'replaying' | 'failed' | 'stopped';

export interface ListenerStatus {
  worker_id: bigint;
  dp_rank: number;
  endpoint: string;
  replay_endpoint: string | null;
  state: ListenerState;
  /** Whether the SUB socket currently has a TCP/IPC connection to the engine. */
  connected: boolean;
  /** The seq this listener expects next. */
  next_seq: bigint;
  last_error: string | null;
}

export interface BatchMeta {
  seq: bigint;
  /** True when the batch came from the engine's replay buffer rather than the live stream. */
  replayed: boolean;
  /** The engine's timestamp of the batch, seconds since the epoch (NaN if it sent none usable). */
  ts: number;
}

export interface ZmqEventListenerOptions {
  workerId: bigint;
  /** The rank registered for this endpoint; a batch's data_parallel_rank overrides it. */
  dpRank?: number;
  /** The engine's PUB endpoint, e.g. `tcp://127.0.0.1:5557`. */
  endpoint: string;
  /** The engine's ROUTER replay endpoint; without one, gaps are counted as lost batches. */
  replayEndpoint?: string | null;
  blockSize: number;
  /** Subscription prefix; empty (everything) by default, as Dynamo subscribes. */
  topic?: string;
  /** Receives each batch's events in seq order; applying them is the caller's job. */
  onEvents: (events: RouterEvent[], meta: BatchMeta) => void;
  /** Called for every rank this stream fed when the engine restarted (its seq went backwards). */
  onClear?: (worker: WorkerKey, reason: 'restart') => void;
  logger?: Logger;
  /** Bound on one replay, connect to end marker. */
  replayTimeoutMs?: number;
  /** Shared across listeners to bound concurrent replays; a process-wide limiter of 4 by default. */
  replayLimiter?: ReplayLimiter;
  /** Live batches held while a replay runs; beyond this they are dropped (and re-requested later). */
  maxBufferedBatches?: number;
  maxPayloadBytes?: number;
  reconnectIntervalMs?: number;
  reconnectMaxIntervalMs?: number;
  receiveHighWaterMark?: number;
  /** SO_RCVBUF; tests shrink it to make a paused listener overflow quickly. */
  receiveBufferSize?: number;
}

interface PendingBatch {
  seq: bigint;
  payload: Buffer;
}

interface ReplayRun {
  from: bigint;
  buffer: PendingBatch[];
  abort: AbortController;
}

/**
 * Subscribes to one engine's vLLM/SGLang KV event stream (one worker's dp rank) and hands its
 * batches, in seq order and without gaps where the engine can replay them, to `onEvents`.
 *
 * Sequence rules per stream: seq == next applies; seq < next is stale; seq > next is a gap that
 * is replayed from the engine's ring buffer while live batches wait in order. A live seq that does
 * not increase means the engine restarted: its ranks are cleared and the new stream rebuilds them.
 */
export class ZmqEventListener {
  readonly workerId: bigint;
  readonly dpRank: number;
  readonly endpoint: string;
  readonly replayEndpoint: string | null;
  private readonly options: ZmqEventListenerOptions;
  private readonly counters: IngestStats = newIngestStats();
  private readonly decoder: VllmBatchDecoder;
  private readonly limiter: ReplayLimiter;
  private readonly logger: Logger | undefined;
  private socket: Subscriber | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private started = false;
  private connected = false;
  private socketFailed = false;
  private lastError: string | null = null;
  private nextSeq = 0n;
  private lastLiveSeq: bigint | null = null;
  private replay: ReplayRun | null = null;
  private replayTasks = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  private paused: Promise<void> | null = null;
  private unpause: (() => void) | null = null;

  constructor(options: ZmqEventListenerOptions) {
    this.options = options;
    this.workerId = options.workerId;
    this.dpRank = options.dpRank ?? 0;
    this.endpoint = options.endpoint;
    this.replayEndpoint = options.replayEndpoint ?? null;
    this.logger = options.logger;
    this.limiter = options.replayLimiter ?? defaultReplayLimiter;
    this.decoder = new VllmBatchDecoder({
      workerId: options.workerId,
      dpRank: this.dpRank,
      blockSize: options.blockSize,
      maxPayloadBytes: options.maxPayloadBytes,
      stats: this.counters,
      logger: options.logger,
    });
  }

  start(): void {
    if (this.started) throw new Error('listener already started');
    this.started = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelReplay();
    this.unpause?.();
    this.wake?.();
    this.socket?.close();
    await this.loop;
    await Promise.allSettled([...this.replayTasks]);
  }

  /** Stops reading the socket (the engine's PUB then drops once high-water marks fill): a slow consumer. */
  pause(): void {
    if (this.paused) return;
    this.paused = new Promise((resolve) => {
      this.unpause = () => {
        this.paused = null;
        this.unpause = null;
        resolve();
      };
    });
  }

  resume(): void {
    this.unpause?.();
  }

  status(): ListenerStatus {
    let state: ListenerState;
    if (this.stopped) state = 'stopped';
    else if (this.socketFailed) state = 'failed';
    else if (this.replay) state = 'replaying';
    else if (!this.connected) state = 'pending';
    else state = 'active';
    return {
      worker_id: this.workerId,
      dp_rank: this.dpRank,
      endpoint: this.endpoint,
      replay_endpoint: this.replayEndpoint,
      state,
      connected: this.connected,
      next_seq: this.nextSeq,
      last_error: this.lastError,
    };
  }

  stats(): IngestStats {
    return copyStats(this.counters);
  }

  private async run(): Promise<void> {
    const initial = this.options.reconnectIntervalMs ?? 100;
    const max = this.options.reconnectMaxIntervalMs ?? 5000;
    let backoff = initial;
    while (!this.stopped) {
      let socket: Subscriber;
      try {
        socket = this.openSocket(initial, max);
      } catch (err) {
        this.fail(err);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, max);
        continue;
      }
      try {
        for (;;) {
          if (this.paused) await this.paused;
          if (this.stopped) break;
          const frames = await socket.receive();
          this.socketFailed = false;
          backoff = initial;
          this.onMessage(frames);
        }
      } catch (err) {
        if (this.stopped) break;
        this.fail(err);
        this.counters.reconnects++;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, max);
      } finally {
        if (!socket.closed) socket.close();
        this.connected = false;
      }
    }
  }

  private openSocket(reconnectInterval: number, reconnectMaxInterval: number): Subscriber {
    const socket = new Subscriber({
      linger: 0,
      reconnectInterval,
      reconnectMaxInterval,
      receiveHighWaterMark: this.options.receiveHighWaterMark ?? 1000,
    });
    if (this.options.receiveBufferSize !== undefined)
      socket.receiveBufferSize = this.options.receiveBufferSize;
    this.socket = socket;
    socket.events.on('connect', () => {
      this.connected = true;
    });
    socket.events.on('disconnect', () => {
      this.connected = false;
    });
    try {
      socket.connect(this.endpoint);
      socket.subscribe(this.options.topic ?? '');
    } catch (err) {
      socket.close();
      throw err;
    }
    this.socketFailed = false;
    return socket;
  }

  private fail(err: unknown): void {
    this.socketFailed = true;
    this.lastError = (err as Error)?.message ?? String(err);
    this.logger?.warn('kv event listener socket failed', {
      worker_id: String(this.workerId),
      endpoint: this.endpoint,
      error: this.lastError,
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One live ZMQ message: `[topic, seq BE8, payload]`. Never throws. */
  private onMessage(frames: Buffer[]): void {
    const stats = this.counters;
    stats.messages++;
    if (frames.length !== 3) {
      stats.dropped_messages.frame_count++;
      return;
    }
    const seq = decodeSeq(frames[1]!);
    if (seq === null) {
      stats.dropped_messages.seq_length++;
      return;
    }
    const payload = frames[2]!;
    if (this.lastLiveSeq !== null && seq <= this.lastLiveSeq) {
      this.restarted(`live seq went from ${this.lastLiveSeq} to ${seq}`);
    }
    this.lastLiveSeq = seq;
    const replay = this.replay;
    if (replay) {
      if (replay.buffer.length >= (this.options.maxBufferedBatches ?? 100_000)) {
        stats.dropped_messages.replay_buffer_overflow++;
      } else {
        replay.buffer.push({ seq, payload });
      }
      return;
    }
    this.ingest(seq, payload, 'live');
  }

  /**
   * `source`: `live` may start a replay; `buffered` (live batches held during a replay) and
   * `replay` may not, so a hole there is counted lost instead of looping.
   */
  private ingest(seq: bigint, payload: Buffer, source: 'live' | 'buffered' | 'replay'): void {
    const stats = this.counters;
    if (seq < this.nextSeq) {
      // Buffered batches the replay already delivered are expected, not stale.
      if (source !== 'buffered') stats.dropped_messages.stale++;
      return;
    }
    if (seq > this.nextSeq) {
      if (source === 'live' && this.replayEndpoint !== null) {
        this.startReplay([{ seq, payload }]);
        return;
      }
      if (source === 'live') stats.gaps++;
      stats.batches_lost += Number(seq - this.nextSeq);
      this.logger?.warn('kv event batches lost', {
        worker_id: String(this.workerId),
        expected: String(this.nextSeq),
        got: String(seq),
      });
    }
    this.apply(seq, payload, source === 'replay');
  }

  private apply(seq: bigint, payload: Buffer, replayed: boolean): void {
    this.nextSeq = seq + 1n;
    let events: RouterEvent[] | null;
    try {
      events = this.decoder.decode(seq, payload);
    } catch (err) {
      // A decoder bug must not stop the stream; the batch is counted as malformed.
      this.counters.dropped_messages.batch_shape++;
      this.lastError = (err as Error).message;
      return;
    }
    if (events === null) return;
    this.counters.batches_applied++;
    if (events.length === 0) return;
    try {
      this.options.onEvents(events, { seq, replayed, ts: this.decoder.lastBatchTs });
    } catch (err) {
      this.counters.dropped_events.callback_error += events.length;
      this.lastError = `onEvents threw: ${(err as Error).message}`;
    }
  }

  /** The engine restarted: forget the old stream and clear what it published. */
  private restarted(reason: string): void {
    this.cancelReplay();
    this.resetStream(reason);
  }

  private resetStream(reason: string): void {
    this.counters.restarts++;
    this.decoder.reset();
    this.nextSeq = 0n;
    this.logger?.warn('kv event stream restarted; clearing worker', {
      worker_id: String(this.workerId),
      reason,
    });
    for (const dpRank of this.decoder.ranksSeen) {
      try {
        this.options.onClear?.({ worker_id: this.workerId, dp_rank: dpRank }, 'restart');
      } catch (err) {
        this.lastError = `onClear threw: ${(err as Error).message}`;
      }
    }
  }

  private cancelReplay(): void {
    if (!this.replay) return;
    this.replay.abort.abort();
    this.replay = null;
  }

  private startReplay(buffer: PendingBatch[]): void {
    this.counters.gaps++;
    const run: ReplayRun = { from: this.nextSeq, buffer, abort: new AbortController() };
    this.replay = run;
    const task = this.runReplay(run).finally(() => this.replayTasks.delete(task));
    this.replayTasks.add(task);
  }

  private async runReplay(run: ReplayRun): Promise<void> {
    const stats = this.counters;
    const release = await this.limiter.acquire();
    const startNext = this.nextSeq;
    let complete = false;
    let lastReplayed: bigint | null = null;
    try {
      if (run.abort.signal.aborted) return;
      stats.replays++;
      let first = true;
      const result = await requestReplay({
        endpoint: this.replayEndpoint!,
        startSeq: run.from,
        timeoutMs: this.options.replayTimeoutMs ?? 10_000,
        signal: run.abort.signal,
        onBatch: (seq, payload) => {
          if (run.abort.signal.aborted) return;
          stats.messages++;
          stats.replayed_batches++;
          if (first && seq < run.from) {
            // The engine answered below what we asked for: it is a new process.
            this.resetStream(`replay from ${run.from} answered from ${seq}`);
          }
          first = false;
          this.ingest(seq, payload, 'replay');
        },
      });
      complete = result.complete;
      lastReplayed = result.lastSeq;
      if (result.firstSeq !== null && result.firstSeq > run.from) {
        this.logger?.warn('kv event replay started after the requested seq', {
          worker_id: String(this.workerId),
          requested: String(run.from),
          first: String(result.firstSeq),
        });
      }
    } catch (err) {
      if (!run.abort.signal.aborted) {
        stats.replays_failed++;
        this.lastError = `replay from ${run.from} failed: ${(err as Error).message}`;
        this.logger?.warn('kv event replay failed', {
          worker_id: String(this.workerId),
          error: this.lastError,
        });
      }
    } finally {
      release();
    }
    if (run.abort.signal.aborted || this.replay !== run) return;
    this.replay = null;
    const progressed = complete && this.nextSeq > startNext;
    this.drain(run.buffer, progressed ? lastReplayed : null);
  }

  /**
   * Applies the live batches held during a replay. A hole the replay should have covered is
   * lost for good (counted); a hole past what the replay returned — the PUB dropped more while
   * we replayed — is worth another replay.
   */
  private drain(buffer: PendingBatch[], replayedUpTo: bigint | null): void {
    for (let i = 0; i < buffer.length; i++) {
      const { seq, payload } = buffer[i]!;
      if (seq > this.nextSeq && replayedUpTo !== null && this.nextSeq > replayedUpTo && this.replayEndpoint) {
        this.startReplay(buffer.slice(i));
        return;
      }
      this.ingest(seq, payload, 'buffered');
    }
  }
}
