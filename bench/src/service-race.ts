/**
 * The service race (issue 10): kvindex's data plane against NVIDIA Dynamo 1.6.1's
 * `python -m dynamo.indexer` (--threads 1, then its default 4), on this machine, in one run, both
 * services of a pair registered to the same simulated vLLM engines (packages/simulator behind
 * packages/transport's publisher):
 *
 * (A) ingest: the publishers step up their rate; a step is sustained by a service when every
 *     event published in it has been applied (dynamo_kvrouter_kv_cache_events_applied) within
 *     one second of the step's end. The highest sustained rate is reported.
 * (B) query: at a fixed ingest rate, a closed loop of clients sends /query with 8k-token prompts
 *     to one service at a time: p50 / p99 / p99.9 latency and QPS.
 *
 *   node --conditions=source bench/src/service-race.ts [--json] [--step-seconds 4] [--query-seconds 8]
 *
 * Needs the Dynamo venv (bash test/tools/dynamo.sh). Uses both cores: run it alone.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { computeBlockHashes } from '@kvindex/core';
import {
  expandTokens,
  parseTrace,
  prepareRequest,
  roundRobin,
  SimFleet,
  type TraceRequest,
} from '@kvindex/simulator';
import { encodeVllmBatch, engineOutputToWireEvents, VllmZmqPublisher } from '@kvindex/transport';
import {
  type ServiceKind,
  type ServiceUnderTest,
  startServices,
  stopAll,
} from '../../test/conformance/src/harness/services.ts';
import { TRACE_SLICE } from '../../test/conformance/src/harness/trace-prompts.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'step-seconds': { type: 'string', default: '4' },
    'query-seconds': { type: 'string', default: '8' },
    rates: { type: 'string', default: '250,500,1000,2000,4000,8000' },
    'query-ingest-rate': { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
  },
});
const STEP_S = Number(values['step-seconds']);
const QUERY_S = Number(values['query-seconds']);
const RATES = values.rates!.split(',').map(Number);
const QUERY_INGEST_RATE = Number(values['query-ingest-rate']);
const CONCURRENCY = Number(values.concurrency);

const MODEL = 'race';
const BLOCK_SIZE = 16;
const ENGINES = 4;
/** Ingest prompts keep this many 512-token trace ids: 64 blocks, so batches stay engine-sized. */
const IDS_PER_INGEST_PROMPT = 2;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** One pre-encoded batch and how many KV events it carries. */
interface Batch {
  engine: number;
  payload: Buffer;
  events: number;
}

/**
 * The engines' batches for `count` requests, computed before any timing: the trace slice again
 * and again, each pass under fresh ids, so engines keep storing (and evicting) blocks.
 */
function batches(trace: readonly TraceRequest[], count: number): Batch[] {
  const fleet = new SimFleet({
    workers: ENGINES,
    blocksPerEngine: 4000,
    blockSize: BLOCK_SIZE,
    policy: roundRobin(),
  });
  const out: Batch[] = [];
  for (let i = 0; out.length < count; i++) {
    const t = trace[i % trace.length]!;
    const pass = Math.floor(i / trace.length);
    const request = prepareRequest(
      {
        ...t,
        hashIds: t.hashIds.slice(0, IDS_PER_INGEST_PROMPT).map((id) => id + pass * 1_000_000),
        inputLength: Math.min(t.inputLength, IDS_PER_INGEST_PROMPT * 512),
      },
      BLOCK_SIZE,
      i,
    );
    const step = fleet.handle(request);
    const events = engineOutputToWireEvents(step.output);
    if (events.length === 0) continue;
    out.push({
      engine: step.engineIndex,
      payload: encodeVllmBatch(events, { dpRank: 0 }),
      events: events.length,
    });
  }
  return out;
}

async function appliedEvents(s: ServiceUnderTest): Promise<number> {
  const text = (await s.http.request('GET', '/metrics')).text;
  let total = 0;
  for (const m of text.matchAll(
    /^dynamo_kvrouter_kv_cache_events_applied\{[^}]*\} (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/gm,
  )) {
    total += Number(m[1]);
  }
  return total;
}

class Feeder {
  private next = 0;
  /** Events published so far (updated as batches go out). */
  published = 0;
  private readonly publishers: VllmZmqPublisher[];
  private readonly stream: Batch[];
  constructor(publishers: VllmZmqPublisher[], stream: Batch[]) {
    this.publishers = publishers;
    this.stream = stream;
  }

  /** Publishes at `rate` batches/s for `seconds`, in 10 ms ticks. Returns events published. */
  async run(rate: number, seconds: number, until?: () => boolean): Promise<number> {
    const start = performance.now();
    let sent = 0;
    let events = 0;
    while (performance.now() - start < seconds * 1000 && !(until?.() ?? false)) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        if (this.next >= this.stream.length) throw new Error('batch stream exhausted; lower --rates');
        const b = this.stream[this.next++]!;
        await this.publishers[b.engine]!.publishPayload(b.payload);
        events += b.events;
        this.published += b.events;
        sent++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return events;
  }
}

interface IngestResult {
  kind: ServiceKind;
  sustained: number;
  steps: Array<{ rate: number; published: number; applied: number; eventsPerSecond: number }>;
}

interface QueryResult {
  kind: ServiceKind;
  qps: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  queries: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function queryLoad(s: ServiceUnderTest, prompts: number[][], seconds: number): Promise<QueryResult> {
  const latencies: number[] = [];
  const start = performance.now();
  let next = 0;
  const client = async () => {
    while (performance.now() - start < seconds * 1000) {
      const tokens = prompts[next++ % prompts.length]!;
      const t0 = performance.now();
      const reply = await s.http.query({ token_ids: tokens, model_name: MODEL });
      latencies.push(performance.now() - t0);
      if (reply.status !== 200)
        throw new Error(`${s.kind} /query → ${reply.status} ${reply.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    kind: s.kind,
    qps: latencies.length / elapsed,
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    p999_ms: percentile(latencies, 0.999),
    queries: latencies.length,
  };
}

async function racePair(dynamo: ServiceKind, stream: Batch[], prompts: number[][]) {
  const services = await startServices(['kvindex', dynamo]);
  const publishers = await Promise.all(
    Array.from({ length: ENGINES }, () => VllmZmqPublisher.bind({ sendHighWaterMark: 100_000 })),
  );
  try {
    for (const [i, p] of publishers.entries()) {
      for (const s of services) {
        const r = await s.http.register({
          instance_id: BigInt(i),
          endpoint: p.endpoint,
          replay_endpoint: p.replayEndpoint!,
          model_name: MODEL,
          block_size: BLOCK_SIZE,
        });
        if (r.status !== 201) throw new Error(`${s.kind} register → ${r.status} ${r.text}`);
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
    const feeder = new Feeder(publishers, stream);
    const ingest = new Map<ServiceKind, IngestResult>(
      services.map((s) => [s.kind, { kind: s.kind, sustained: 0, steps: [] }]),
    );
    const stillUp = new Set(services.map((s) => s.kind));
    for (const rate of RATES) {
      const before = new Map(
        await Promise.all(services.map(async (s) => [s.kind, await appliedEvents(s)] as const)),
      );
      // Lag (events published but not yet applied) sampled at the middle and the end of the step.
      const lagAt = async (s: ServiceUnderTest) => feeder.published - (await appliedEvents(s));
      const midLag = new Map<ServiceKind, number>();
      const feeding = feeder.run(rate, STEP_S);
      await new Promise((r) => setTimeout(r, (STEP_S * 1000) / 2));
      for (const s of services) midLag.set(s.kind, await lagAt(s));
      const published = await feeding;
      for (const s of services) {
        const endLag = await lagAt(s);
        const applied = feeder.published - endLag - before.get(s.kind)!;
        const result = ingest.get(s.kind)!;
        const eventsPerSecond = published / STEP_S;
        result.steps.push({ rate, published, applied, eventsPerSecond });
        // Sustained: the lag did not grow over the second half of the step (a steady backlog
        // under one second of events is a pipeline, not falling behind).
        const steady = endLag <= Math.max(1.5 * midLag.get(s.kind)!, eventsPerSecond);
        if (stillUp.has(s.kind) && steady) result.sustained = rate;
        else stillUp.delete(s.kind);
        log(
          `  ${s.kind} @ ${rate} batches/s (${Math.round(eventsPerSecond)} events/s): lag ${midLag.get(s.kind)} mid-step, ${endLag} at the end${steady ? '' : ' — growing'}`,
        );
      }
      // Let every backlog drain before the next step.
      const drainStart = performance.now();
      let counts: number[] = [];
      while (performance.now() - drainStart < 30_000) {
        counts = await Promise.all(services.map(appliedEvents));
        if (counts.every((c) => c >= feeder.published)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      log(
        `  drained in ${Math.round(performance.now() - drainStart)} ms: ${services.map((s, i) => `${s.kind} ${counts[i]}/${feeder.published}`).join(', ')}`,
      );
      if (stillUp.size === 0) break;
    }
    const queries: QueryResult[] = [];
    for (const s of services) {
      let done = false;
      const feeding = feeder.run(QUERY_INGEST_RATE, QUERY_S + 2, () => done);
      await new Promise((r) => setTimeout(r, 1000));
      queries.push(await queryLoad(s, prompts, QUERY_S));
      done = true;
      await feeding;
    }
    return { ingest: [...ingest.values()], queries };
  } finally {
    await Promise.all(publishers.map((p) => p.close()));
    await stopAll(services);
  }
}

async function main() {
  const trace = parseTrace(readFileSync(TRACE_SLICE, 'utf8'), { source: TRACE_SLICE });
  const prompts = trace
    .filter((t) => t.inputLength >= 7500 && t.inputLength <= 8192)
    .slice(0, 200)
    .map((t) => Array.from(expandTokens(t)));
  // Sanity: the prompts are what the row says (8k tokens, hashed at this block size).
  if (prompts.length === 0 || computeBlockHashes(prompts[0]!, BLOCK_SIZE).length < 450)
    throw new Error('no 8k prompts');
  const totalBatches =
    RATES.reduce((a, r) => a + r * (STEP_S + 1), 0) + QUERY_INGEST_RATE * (QUERY_S * 2 + 4) + 1000;
  log(`precomputing ${totalBatches} batches…`);
  // Each pair gets fresh services and publishers (seq from 0), so both replay the same stream.
  const stream = batches(trace, totalBatches);
  const results = [];
  for (const dynamo of ['dynamo-t1', 'dynamo-t4'] as const) {
    log(`race: kvindex vs ${dynamo}`);
    results.push({ dynamo, ...(await racePair(dynamo, stream, prompts)) });
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const lines = [
    `| pair | service | max sustained ingest, batches/s (KV events/s) | /query QPS | p50 ms | p99 ms | p99.9 ms |`,
    `|---|---|---|---|---|---|---|`,
  ];
  for (const r of results) {
    for (const kind of ['kvindex', r.dynamo] as const) {
      const i = r.ingest.find((x) => x.kind === kind)!;
      const q = r.queries.find((x) => x.kind === kind)!;
      lines.push(
        `| kvindex vs ${r.dynamo} | ${kind} | ${i.sustained ? `${i.sustained} (${Math.round(i.steps.find((x) => x.rate === i.sustained)!.eventsPerSecond)})` : `< ${RATES[0]}`} | ${q.qps.toFixed(0)} | ${q.p50_ms.toFixed(2)} | ${q.p99_ms.toFixed(2)} | ${q.p999_ms.toFixed(2)} |`,
      );
    }
    const k = r.ingest.find((x) => x.kind === 'kvindex')!;
    const d = r.ingest.find((x) => x.kind === r.dynamo)!;
    const kq = r.queries.find((x) => x.kind === 'kvindex')!;
    const dq = r.queries.find((x) => x.kind === r.dynamo)!;
    lines.push(
      `| kvindex / ${r.dynamo} | ratio (latency: Dynamo's ÷ kvindex's, > 1 = kvindex faster) | ${d.sustained ? (k.sustained / d.sustained).toFixed(2) : 'n/a'}×${d.sustained === RATES[RATES.length - 1] ? ' (Dynamo at the top of the ladder)' : ''} | ${(kq.qps / dq.qps).toFixed(2)}× | ${(dq.p50_ms / kq.p50_ms).toFixed(2)}× | ${(dq.p99_ms / kq.p99_ms).toFixed(2)}× | ${(dq.p999_ms / kq.p999_ms).toFixed(2)}× |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
