import { readFileSync } from 'node:fs';
import { isRemoved, isStored, parseJsonExact, type RouterEvent, routerEventFromValue } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { prepareRequest } from './request.ts';
import { EventReplayModel } from './test-support/event-replay-model.ts';
import { parseTrace, type TraceRequest } from './trace.ts';
import { generateWorkload, type WorkloadParameters } from './workload.ts';

const slice = parseTrace(
  readFileSync(new URL('../traces/conversation-slice.jsonl', import.meta.url), 'utf8'),
);

const base: WorkloadParameters = {
  trace: 'slice',
  workers: 4,
  dpRanks: 2,
  blocksPerWorker: 300,
  blockSize: 64,
  policy: 'round-robin',
  engineHashes: 'shared',
  removedEvents: 'per-block',
  seed: 0n,
};

interface RequestLine {
  req: number;
  timestamp: number;
  worker_id: number | bigint;
  dp_rank: number;
  expected_hits: Record<string, number>;
  events: [number, number];
  local_hashes: (number | bigint)[];
}

function generate(trace: TraceRequest[], params: Partial<WorkloadParameters> = {}) {
  const events: string[] = [];
  const requests: string[] = [];
  const summary = generateWorkload(
    trace,
    { ...base, ...params },
    {
      event: (l) => events.push(l),
      request: (l) => requests.push(l),
    },
  );
  return { events, requests, summary };
}

function decode(result: ReturnType<typeof generate>) {
  const events = result.events.map((l) => {
    const v = parseJsonExact(l) as { req: number; event: unknown };
    return { req: v.req, event: routerEventFromValue(v.event) };
  });
  const requests = result.requests.map((l) => parseJsonExact(l) as unknown as RequestLine);
  return { events, requests };
}

const big = (v: number | bigint) => BigInt(v);

describe('generateWorkload', () => {
  it('writes hand-checkable lines for a tiny trace', () => {
    const t = (...ids: number[]): TraceRequest => ({
      timestamp: 0,
      inputLength: ids.length * 512,
      outputLength: 1,
      hashIds: ids,
    });
    const out = decode(
      generate([t(1, 2), t(1, 3), t(1, 2, 4), t(1, 3)], {
        workers: 2,
        dpRanks: 1,
        blockSize: 256,
        blocksPerWorker: 100,
      }),
    );
    expect(out.requests.map((r) => [r.req, big(r.worker_id), r.dp_rank, r.expected_hits, r.events])).toEqual([
      [0, 0n, 0, {}, [0, 1]],
      [1, 1n, 0, { '0:0': 2 }, [1, 2]],
      [2, 0n, 0, { '0:0': 4, '1:0': 2 }, [2, 3]],
      [3, 1n, 0, { '0:0': 2, '1:0': 4 }, [3, 3]], // a full hit emits nothing
    ]);
    expect(out.requests.map((r) => r.timestamp)).toEqual([0, 0, 0, 0]);
    expect(out.requests[2]!.local_hashes.map(big)).toEqual([
      ...prepareRequest(t(1, 2, 4), 256, 0).localHashes,
    ]);
    const third = out.events[2]!.event.event.data;
    expect(isStored(third) && third.stored.parent_hash).toBe(
      prepareRequest(t(1, 2), 256, 0).sequenceHashes[3],
    );
  });

  it('event ranges tile events.jsonl, and expected_hits equal a model fed the lines before', () => {
    const result = generate(slice.slice(0, 120));
    const { events, requests } = decode(result);
    const model = new EventReplayModel();
    let next = 0;
    let removedSeen = 0;
    for (const r of requests) {
      expect(r.events[0]).toBe(next);
      next = r.events[1];
      const local = BigUint64Array.from(r.local_hashes.map(big));
      const want: Record<string, number> = {};
      for (const w of [0n, 1n, 2n, 3n]) {
        for (const dp of [0, 1]) {
          const n = model.prefixMatch(w, dp, local);
          if (n > 0) want[`${w}:${dp}`] = n;
        }
      }
      expect(r.expected_hits).toEqual(want);
      for (const e of events.slice(r.events[0], r.events[1])) {
        expect(e.req).toBe(r.req);
        expect(e.event.worker_id).toBe(big(r.worker_id));
        expect(e.event.event.dp_rank).toBe(r.dp_rank);
        if (isRemoved(e.event.event.data)) removedSeen++;
        model.apply(e.event);
      }
    }
    expect(next).toBe(events.length);
    expect(removedSeen).toBeGreaterThan(0);
    const c = result.summary.counts;
    expect(c.events).toBe(events.length);
    expect(c.requests).toBe(120);
    expect(c.removed_events).toBe(removedSeen);
    const storedBlocks = events.reduce((n, e) => {
      const d = e.event.event.data;
      return n + (isStored(d) ? d.stored.blocks.length : 0);
    }, 0);
    expect(c.stored_blocks).toBe(storedBlocks);
    expect(c.stored_blocks - c.removed_blocks).toBe(c.cached_blocks_at_end);
  });

  it('writes u64 hashes exactly', () => {
    const { events } = generate(slice.slice(0, 3));
    const first = routerEventFromValue((parseJsonExact(events[0]!) as { event: unknown }).event);
    const stored = first.event.data;
    expect(isStored(stored)).toBe(true);
    const want = prepareRequest(slice[0]!, 64, 0);
    if (isStored(stored))
      expect(stored.stored.blocks.map((b) => b.tokens_hash)).toEqual([...want.localHashes]);
    expect(events[0]).toContain(String(want.localHashes[1]));
  });

  it('is deterministic: the same parameters give the same bytes; the seed changes random runs', () => {
    const params = { policy: 'random', engineHashes: 'per-engine', seed: 7n } as const;
    const a = generate(slice.slice(0, 60), params);
    const b = generate(slice.slice(0, 60), params);
    expect(b.events).toEqual(a.events);
    expect(b.requests).toEqual(a.requests);
    expect(b.summary).toEqual(a.summary);
    const c = generate(slice.slice(0, 60), { ...params, seed: 8n });
    expect(c.requests).not.toEqual(a.requests);
  });

  it('stops after `requests` and records parameters and counts', () => {
    const { summary, requests } = generate(slice, { requests: 12, policy: 'session' });
    expect(requests.length).toBe(12);
    expect(requests.map((l) => (parseJsonExact(l) as { timestamp: number }).timestamp)).toEqual(
      slice.slice(0, 12).map((r) => r.timestamp),
    );
    expect(summary.format).toBe('kvindex-workload/1');
    expect(summary.parameters).toMatchObject({
      requests: 12,
      workers: 4,
      dp_ranks: 2,
      block_size: 64,
      policy: 'session',
    });
  });

  it('one request line per request, even when events are batched', () => {
    const { events } = decode(generate(slice.slice(0, 100), { removedEvents: 'batched' }));
    const perRequest = new Map<number, RouterEvent[]>();
    for (const e of events) perRequest.set(e.req, [...(perRequest.get(e.req) ?? []), e.event]);
    for (const list of perRequest.values()) {
      expect(list.filter((e) => isRemoved(e.event.data)).length).toBeLessThanOrEqual(1);
      expect(list.filter((e) => isStored(e.event.data)).length).toBeLessThanOrEqual(1);
    }
  });
});
