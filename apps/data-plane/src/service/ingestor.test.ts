import type { RouterEvent } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { Ingestor, routerEventBatch } from './ingestor.ts';

const event = (i: number): RouterEvent => ({
  worker_id: 1n,
  storage_tier: 'device',
  event: { event_id: BigInt(i), dp_rank: 0, data: 'cleared' },
});

describe('Ingestor', () => {
  it('applies in order, in slices that yield to the event loop', async () => {
    const ingestor = new Ingestor({ sliceMs: 1 });
    const applied: bigint[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const slow = (e: RouterEvent) => {
      const until = performance.now() + 0.05;
      while (performance.now() < until) {}
      applied.push(e.event.event_id);
    };
    ingestor.push(
      routerEventBatch(
        Array.from({ length: 2000 }, (_, i) => event(i)),
        slow,
        () => true,
      ),
    );
    expect(ingestor.depth).toBe(2000);
    await ingestor.idle();
    clearInterval(timer);
    expect(applied).toEqual(Array.from({ length: 2000 }, (_, i) => BigInt(i)));
    // ~100 ms of work in 1 ms slices: timers ran in between.
    expect(ingestor.slices).toBeGreaterThan(10);
    expect(ticks).toBeGreaterThan(5);
    expect(ingestor.depth).toBe(0);
  });

  it('drops the queued events of a listener that is gone', async () => {
    const ingestor = new Ingestor();
    const applied: number[] = [];
    let alive = true;
    ingestor.push(
      routerEventBatch(
        [event(1), event(2)],
        () => applied.push(1),
        () => alive,
      ),
    );
    ingestor.push(
      routerEventBatch(
        [event(3)],
        () => applied.push(2),
        () => true,
      ),
    );
    alive = false;
    await ingestor.idle();
    expect(applied).toEqual([2]);
    expect(ingestor.depth).toBe(0);
  });

  it('drainNow applies synchronously', () => {
    const ingestor = new Ingestor();
    let n = 0;
    ingestor.push(
      routerEventBatch(
        [event(1), event(2)],
        () => n++,
        () => true,
      ),
    );
    ingestor.drainNow();
    expect(n).toBe(2);
  });

  it('asks producers to pause above the high-water mark and to resume once drained below the low one', async () => {
    const calls: boolean[] = [];
    const ingestor = new Ingestor({
      sliceMs: 1,
      highWater: 100,
      lowWater: 10,
      onPressure: (o) => calls.push(o),
    });
    const batch = () =>
      routerEventBatch(
        Array.from({ length: 60 }, (_, i) => event(i)),
        () => {},
        () => true,
      );
    ingestor.push(batch());
    expect(calls).toEqual([]);
    ingestor.push(batch());
    expect(calls).toEqual([true]);
    expect(ingestor.overloaded).toBe(true);
    await ingestor.idle();
    expect(calls).toEqual([true, false]);
  });
});
