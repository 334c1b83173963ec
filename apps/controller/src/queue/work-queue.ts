import { type Clock, realClock } from './clock.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';

/**
 * A controller work queue with client-go's semantics (workqueue.TypedRateLimitingInterface):
 * - an item waits at most once (`dirty`), however often it is added;
 * - an item is never handed to two workers at once (`processing`); adding it while it is processed
 *   marks it dirty, and done() queues it again, so the change is reconciled once more;
 * - addAfter() delays an item (an earlier delay wins); addRateLimited() delays it by the rate
 *   limiter (per-item exponential backoff, overall token bucket); forget() resets its backoff.
 * Items are compared with SameValueZero: use keys ("namespace/name"), not objects.
 */
export class WorkQueue<T> {
  private readonly queue: T[] = [];
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  private readonly waiting = new Map<T, { at: number; timer: unknown }>();
  private readonly getters: ((item: T | undefined) => void)[] = [];
  private readonly rateLimiter: RateLimiter<T>;
  private readonly clock: Clock;
  private shutdown = false;
  private drained: (() => void) | undefined;
  /** Items ever queued (a re-add of a waiting item counts once). */
  adds = 0;
  /** Items re-queued by the rate limiter. */
  retries = 0;

  constructor(options: { rateLimiter?: RateLimiter<T>; clock?: Clock } = {}) {
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<T>(this.clock);
  }

  add(item: T): void {
    if (this.shutdown || this.dirty.has(item)) return;
    this.dirty.add(item);
    this.adds++;
    if (this.processing.has(item)) return;
    const getter = this.getters.shift();
    if (getter) this.handOut(item, getter);
    else this.queue.push(item);
  }

  addAfter(item: T, ms: number): void {
    if (this.shutdown) return;
    if (ms <= 0) {
      this.add(item);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.waiting.get(item);
    if (existing) {
      if (existing.at <= at) return;
      this.clock.clearTimeout(existing.timer);
    }
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, ms);
    this.waiting.set(item, { at, timer });
  }

  addRateLimited(item: T): void {
    this.retries++;
    this.addAfter(item, this.rateLimiter.when(item));
  }

  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** The next item, marked as processing; undefined once the queue is shut down and empty. */
  get(): Promise<T | undefined> {
    const item = this.queue.shift();
    if (item !== undefined) {
      this.processing.add(item);
      this.dirty.delete(item);
      return Promise.resolve(item);
    }
    if (this.shutdown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Processing of `item` finished; if it was added meanwhile, it is queued again. */
  done(item: T): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) {
      const getter = this.getters.shift();
      if (getter) this.handOut(item, getter);
      else this.queue.push(item);
    }
    if (this.processing.size === 0 && this.drained) this.drained();
  }

  /** Items waiting to be processed (client-go's depth; delayed items not included). */
  len(): number {
    return this.queue.length;
  }

  processingCount(): number {
    return this.processing.size;
  }

  delayedCount(): number {
    return this.waiting.size;
  }

  get shuttingDown(): boolean {
    return this.shutdown;
  }

  /**
   * Stops accepting items and releases every blocked get() with undefined. Queued items are still
   * handed out; the promise resolves when no item is being processed (ShutDownWithDrain).
   */
  shutDown(): Promise<void> {
    this.shutdown = true;
    for (const { timer } of this.waiting.values()) this.clock.clearTimeout(timer);
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  private handOut(item: T, getter: (item: T) => void): void {
    this.processing.add(item);
    this.dirty.delete(item);
    getter(item);
  }
}
