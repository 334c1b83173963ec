import { describe, expect, it } from 'vitest';
import { BatchRing } from './batch-ring.ts';
import { ReplayLimiter } from './replay-limiter.ts';

describe('ReplayLimiter', () => {
  it('never runs more than its concurrency; waiters start in order as slots free', async () => {
    const limiter = new ReplayLimiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const tasks = [0, 1, 2, 3, 4].map(async (i) => {
      const release = await limiter.acquire();
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise<void>((r) => releases.push(r));
      running--;
      release();
    });
    while (releases.length < 2) await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1]);
    for (let done = 0; done < 5; done++) {
      while (releases.length === 0) await new Promise((r) => setImmediate(r));
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(tasks);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(limiter.running).toBe(0);
  });
});

describe('BatchRing', () => {
  it('keeps the last N batches and answers from a start seq', () => {
    const ring = new BatchRing(3);
    for (let s = 0n; s < 5n; s++) ring.push(s, Buffer.from([Number(s)]));
    expect([...ring.from(0n)].map((e) => e.seq)).toEqual([2n, 3n, 4n]);
    expect([...ring.from(3n)].map((e) => e.seq)).toEqual([3n, 4n]);
    expect([...ring.from(9n)]).toEqual([]);
    ring.push(0n, Buffer.alloc(1)); // a new stream
    expect([...ring.from(0n)].map((e) => e.seq)).toEqual([0n]);
  });
});
