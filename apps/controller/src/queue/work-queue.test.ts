import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { defaultControllerRateLimiter, ExponentialBackoff, MaxOf, TokenBucket } from './rate-limiter.ts';
import { WorkQueue } from './work-queue.ts';

function queue() {
  const clock = new ManualClock();
  return { clock, q: new WorkQueue<string>({ clock, rateLimiter: defaultControllerRateLimiter(clock) }) };
}

describe('WorkQueue', () => {
  it('hands out each waiting key once, in order, however often it was added', async () => {
    const { q } = queue();
    for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) q.add(key);
    expect(q.len()).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
    expect(q.len()).toBe(0);
  });

  it('never hands one key to two workers; a re-add during processing runs once more', async () => {
    const { q } = queue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // held back while 'a' is processed
    let second: string | undefined;
    void q.get().then((item) => {
      second = item;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(first!);
    await Promise.resolve();
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
    expect(q.processingCount()).toBe(0);
  });

  it('wakes a blocked get() on add', async () => {
    const { q } = queue();
    const pending = q.get();
    q.add('x');
    expect(await pending).toBe('x');
  });

  it('delays with addAfter, keeping the earlier of two delays', async () => {
    const { q, clock } = queue();
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 500);
    expect(q.delayedCount()).toBe(1);
    clock.advance(49);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
    expect(await q.get()).toBe('a');
  });

  it('backs a failing key off exponentially from 5 ms to 1000 s, and forget() resets it', () => {
    const backoff = new ExponentialBackoff<string>(5, 1_000_000);
    const delays = Array.from({ length: 20 }, () => backoff.when('k'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays[17]).toBe(655_360);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[19]).toBe(1_000_000);
    expect(backoff.when('other')).toBe(5);
    expect(backoff.numRequeues('k')).toBe(20);
    backoff.forget('k');
    expect(backoff.numRequeues('k')).toBe(0);
    expect(backoff.when('k')).toBe(5);
    for (let i = 0; i < 2000; i++) backoff.when('overflow');
    expect(backoff.when('overflow')).toBe(1_000_000);
  });

  it('limits retries overall with a token bucket: burst, then qps', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket<string>(10, 3, clock);
    expect([bucket.when('a'), bucket.when('b'), bucket.when('c')]).toEqual([0, 0, 0]);
    expect(bucket.when('d')).toBeCloseTo(100);
    expect(bucket.when('e')).toBeCloseTo(200);
    clock.advance(1000);
    // 10 tokens earned, minus the 2 borrowed, capped at the burst of 3.
    expect([bucket.when('f'), bucket.when('g'), bucket.when('h')]).toEqual([0, 0, 0]);
    expect(bucket.when('i')).toBeCloseTo(100);
  });

  it('rate-limits re-adds with the longer of backoff and bucket', async () => {
    const clock = new ManualClock();
    const limiter = new MaxOf<string>(new ExponentialBackoff(5, 1_000_000), new TokenBucket(10, 1, clock));
    const q = new WorkQueue<string>({ clock, rateLimiter: limiter });
    q.addRateLimited('a'); // backoff 5, bucket 0
    q.addRateLimited('b'); // backoff 5, bucket 100
    clock.advance(5);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    clock.advance(95);
    expect(q.len()).toBe(1);
    expect(q.numRequeues('a')).toBe(1);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    expect(q.retries).toBe(2);
  });

  it('retries a failing reconcile with growing delays until it succeeds', async () => {
    const { q, clock } = queue();
    q.add('ns/idxd');
    const waits: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const key = (await q.get())!;
      q.done(key);
      if (attempt === 4) {
        q.forget(key);
        break;
      }
      q.addRateLimited(key); // the reconcile failed
      const from = clock.now();
      while (q.len() === 0) clock.advance(1);
      waits.push(clock.now() - from);
    }
    expect(waits).toEqual([5, 10, 20, 40]);
    expect(q.numRequeues('ns/idxd')).toBe(0);
  });

  it('shuts down: releases blocked getters, drops new adds and timers, drains processing', async () => {
    const { q, clock } = queue();
    q.add('a');
    q.add('b');
    const a = await q.get();
    q.addAfter('late', 10);
    let drained = false;
    const shut = q.shutDown().then(() => {
      drained = true;
    });
    q.add('c');
    expect(clock.pendingTimers()).toBe(0);
    expect(await q.get()).toBe('b'); // already queued items are still handed out
    expect(await q.get()).toBeUndefined();
    q.done('b');
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(a!);
    await shut;
    expect(drained).toBe(true);
  });
});
