import type { RouterEvent } from '@kvindex/core';

/**
 * Node runs the index and the HTTP server on one thread. Listeners hand batches here instead of
 * applying them on arrival; the queue is drained in slices of at most `sliceMs`, yielding to the
 * event loop (setImmediate) between slices so a query waits at most one slice behind ingestion.
 * See docs/decisions/ (ingestion and queries on one thread).
 */

export interface IngestBatch {
  /** Number of events in the batch. */
  size: number;
  /** Applies event `i` (called once per event, in order); the owner counts outcomes. */
  applyAt: (i: number) => void;
  /** False once the listener that produced the batch is gone: its events must not resurrect blocks. */
  alive: () => boolean;
}

/** A batch of RouterEvents, each applied by `apply`. */
export function routerEventBatch(
  events: readonly RouterEvent[],
  apply: (event: RouterEvent) => void,
  alive: () => boolean,
): IngestBatch {
  return { size: events.length, applyAt: (i) => apply(events[i]!), alive };
}

/** Queue depth at which slices start growing. */
const BACKLOG_EVENTS = 2000;

export interface IngestorOptions {
  sliceMs?: number;
  /** Queue depth (events) above which producers are asked to pause, and below which to resume. */
  highWater?: number;
  lowWater?: number;
  /** Called with true when the queue crosses highWater, false when it drains below lowWater. */
  onPressure?: (overloaded: boolean) => void;
}

export class Ingestor {
  private readonly queue: IngestBatch[] = [];
  private head = 0;
  /** Next event of the batch at `head`. */
  private offset = 0;
  private pending = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly highWater: number;
  private readonly lowWater: number;
  private readonly onPressure: ((overloaded: boolean) => void) | undefined;
  /** True while producers are paused because the queue is too deep. */
  overloaded = false;
  pauses = 0;
  private idleWaiters: Array<() => void> = [];
  applied = 0;
  slices = 0;
  /** The longest stretch spent applying without yielding, since start (ms). */
  longestSliceMs = 0;

  constructor(options: IngestorOptions = {}) {
    this.sliceMs = options.sliceMs ?? 2;
    this.highWater = options.highWater ?? 200_000;
    this.lowWater = options.lowWater ?? 50_000;
    this.onPressure = options.onPressure;
  }

  /** Events waiting to be applied. */
  get depth(): number {
    return this.pending;
  }

  push(batch: IngestBatch): void {
    if (batch.size === 0) return;
    this.queue.push(batch);
    this.pending += batch.size;
    if (!this.overloaded && this.pending > this.highWater) {
      this.overloaded = true;
      this.pauses++;
      this.onPressure?.(true);
    }
    this.schedule();
  }

  /** Resolves once everything queued so far has been applied. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Applies everything now, without yielding (start-up loads, tests). */
  drainNow(): void {
    this.run(Number.POSITIVE_INFINITY);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // A backlog gets longer slices (up to 4×): decoding arriving batches also takes turns of the
      // loop, and a fixed budget could let the queue grow without bound under a burst.
      const boost = Math.min(4, 1 + this.pending / BACKLOG_EVENTS);
      this.run(this.sliceMs * boost);
      if (this.pending > 0) this.schedule();
    });
  }

  private run(budgetMs: number): void {
    const started = performance.now();
    try {
      this.runUntil(started + budgetMs);
    } finally {
      this.slices++;
      this.longestSliceMs = Math.max(this.longestSliceMs, performance.now() - started);
    }
  }

  private runUntil(deadline: number): void {
    while (this.head < this.queue.length) {
      const batch = this.queue[this.head]!;
      if (!batch.alive()) {
        this.pending -= batch.size - this.offset;
        this.nextBatch();
        continue;
      }
      while (this.offset < batch.size) {
        batch.applyAt(this.offset);
        this.offset++;
        this.pending--;
        this.applied++;
        // One stored event can carry hundreds of blocks (~ms to apply): check the clock per event.
        if (performance.now() >= deadline) {
          if (this.offset >= batch.size) this.nextBatch();
          this.settle();
          return;
        }
      }
      this.nextBatch();
    }
    this.queue.length = 0;
    this.head = 0;
    this.settle();
  }

  private settle(): void {
    if (this.overloaded && this.pending < this.lowWater) {
      this.overloaded = false;
      this.onPressure?.(false);
    }
    if (this.pending > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private nextBatch(): void {
    this.head++;
    this.offset = 0;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
