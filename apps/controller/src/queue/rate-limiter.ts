import type { Clock } from './clock.ts';

/** How long to wait before retrying an item (client-go's workqueue.TypedRateLimiter). */
export interface RateLimiter<T> {
  /** Delay in ms before `item` may run again; counts as one more failure of it. */
  when(item: T): number;
  /** The item succeeded: stop backing it off. */
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** Per item: base·2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ExponentialBackoff<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(item: T): number {
    const exponent = this.failures.get(item) ?? 0;
    this.failures.set(item, exponent + 1);
    const delay = this.baseMs * 2 ** exponent;
    return Number.isFinite(delay) && delay < this.maxMs ? delay : this.maxMs;
  }

  forget(item: T): void {
    this.failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * A token bucket shared by all items (client-go's BucketRateLimiter over golang.org/x/time/rate):
 * `burst` retries at once, then `qps`. Each call reserves a token; the delay is how long until the
 * bucket has earned it, so a storm of failures queues up instead of hammering the apiserver.
 */
export class TokenBucket<T> implements RateLimiter<T> {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;

  constructor(qps: number, burst: number, clock: Clock) {
    this.qps = qps;
    this.burst = burst;
    this.clock = clock;
    this.tokens = burst;
    this.last = clock.now();
  }

  when(_item: T): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(_item: T): void {}

  numRequeues(_item: T): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOf<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }

  when(item: T): number {
    return Math.max(...this.limiters.map((l) => l.when(item)));
  }

  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: T): number {
    return Math.max(...this.limiters.map((l) => l.numRequeues(item)));
  }
}

/** client-go's default for controllers: 5 ms → 1000 s per item, and 10 retries/s (burst 100) overall. */
export function defaultControllerRateLimiter<T>(clock: Clock): RateLimiter<T> {
  return new MaxOf<T>(new ExponentialBackoff<T>(5, 1_000_000), new TokenBucket<T>(10, 100, clock));
}
