import { describe, expect, it } from 'vitest';
import { FcfsQueue, isBusy } from './fcfs-queue.ts';

describe('FcfsQueue', () => {
  it('releases in arrival order while admission holds, seeing each job’s effect', () => {
    const q = new FcfsQueue();
    let slots = 2;
    const ran: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      q.park(() => {
        ran.push(id);
        slots--;
      });
    }
    expect(q.drain(() => slots > 0)).toBe(2);
    expect(ran).toEqual(['a', 'b']);
    expect(q.length).toBe(1);
    slots = 1;
    expect(q.drain(() => slots > 0)).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('isBusy is strictly above threshold × capacity', () => {
    expect(isBusy(400, 4, 100)).toBe(false);
    expect(isBusy(401, 4, 100)).toBe(true);
  });
});
