import { describe, expect, it } from 'vitest';
import { ActiveSequences } from './active-sequences.ts';

const w1 = { worker_id: 1n, dp_rank: 0 };
const w2 = { worker_id: 2n, dp_rank: 0 };

describe('ActiveSequences', () => {
  it('counts shared blocks once and prefill tokens per request', () => {
    const s = new ActiveSequences({ now: () => 0 });
    expect(s.add('a', w1, [10n, 11n, 12n], 48)).toBe(true);
    expect(s.add('b', w1, [10n, 11n, 13n], 16)).toBe(true);
    expect(s.load(w1)).toEqual({ activeBlocks: 4, activePrefillTokens: 64, activeRequests: 2 });
    expect(s.newBlocks(w1, [10n, 13n, 14n])).toBe(1);
    expect(s.newBlocks(w2, [10n, 13n, 14n])).toBe(3);
  });

  it('mark_prefill_completed drops prefill tokens once; free releases blocks', () => {
    const s = new ActiveSequences({ now: () => 0 });
    s.add('a', w1, [10n, 11n], 32);
    s.add('b', w1, [10n], 16);
    expect(s.markPrefillCompleted('a')).toBe(true);
    expect(s.markPrefillCompleted('a')).toBe(false);
    expect(s.load(w1)).toEqual({ activeBlocks: 2, activePrefillTokens: 16, activeRequests: 2 });
    expect(s.free('a')?.requestId).toBe('a');
    expect(s.load(w1)).toEqual({ activeBlocks: 1, activePrefillTokens: 16, activeRequests: 1 });
    expect(s.free('b')).toBeDefined();
    expect(s.load(w1)).toEqual({ activeBlocks: 0, activePrefillTokens: 0, activeRequests: 0 });
    expect(s.free('b')).toBeUndefined();
  });

  it('refuses a duplicate request id', () => {
    const s = new ActiveSequences({ now: () => 0 });
    expect(s.add('a', w1, [1n], 16)).toBe(true);
    expect(s.add('a', w2, [2n], 16)).toBe(false);
    expect(s.load(w2).activeRequests).toBe(0);
  });

  it('expires requests older than the expiry, checking only every interval', () => {
    let now = 0;
    const s = new ActiveSequences({ now: () => now, expiryMs: 300_000, checkEveryMs: 30_000 });
    s.add('old', w1, [1n, 2n], 32);
    now = 200_000;
    s.add('young', w2, [3n], 16);
    now = 301_000;
    // The last check ran at 200 s (when 'young' was added); now 'old' is 301 s old, 'young' 101 s.
    expect(s.expireStale()).toEqual(['old']);
    expect(s.has('old')).toBe(false);
    expect(s.load(w1).activeBlocks).toBe(0);
    // Within 30 s of the last check nothing is examined, even once 'young' is past the expiry.
    now = 301_000 + 29_999;
    expect(s.expireStale()).toEqual([]);
    now = 200_000 + 300_001 + 30_000;
    expect(s.expireStale()).toEqual(['young']);
    expect(s.expiredTotal).toBe(2);
    expect(s.size).toBe(0);
  });

  it('removeWorker frees only that worker’s requests', () => {
    const s = new ActiveSequences({ now: () => 0 });
    s.add('a', w1, [1n], 16);
    s.add('b', w2, [1n], 16);
    s.removeWorker(1n);
    expect(s.has('a')).toBe(false);
    expect(s.has('b')).toBe(true);
  });
});
