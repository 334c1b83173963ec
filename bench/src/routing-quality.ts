/**
 * Routing quality (issue 6): replays a Mooncake trace through a simulated vLLM fleet (in process,
 * LRU prefix caches per worker) under four routers and reports what each one's choices bought:
 *
 *   hit rate   = prompt tokens found in the chosen worker's cache / prompt tokens
 *   imbalance  = the busiest worker's prefill work (uncached prompt tokens) / the mean worker's,
 *                and the same for request counts (1.0 is perfectly even)
 *
 * Routers: random, round-robin, kvindex approximate mode (no events: an ApproximateKvIndex learns
 * from the router's own decisions, TTL on trace time) and kvindex event-driven (a KvIndex fed the
 * fleet's KV events). Both kvindex rows use @kvindex/router's Dynamo cost model with the default
 * flags (weight 1, temperature 0, active-block tracking), requests held in flight for a simple
 * latency model on trace time so load balancing has something to balance.
 *
 *   node --conditions=source bench/src/routing-quality.ts [--trace PATH] [--workers N]
 *     [--blocks-per-worker N] [--block-size N] [--prefill-tps N] [--decode-ms N]
 *     [--kv-overlap-score-weight W] [--json]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { WorkerKey } from '@kvindex/core';
import { ApproximateKvIndex, KvIndex, type MatchScores } from '@kvindex/indexer';
import { defaultRouterConfig, KvRouter } from '@kvindex/router';
import {
  type AssignmentPolicy,
  bestMatch,
  parseTrace,
  prepareRequest,
  randomAssignment,
  roundRobin,
  SeededRandom,
  SimFleet,
  stepEvents,
  type TraceRequest,
} from '@kvindex/simulator';

const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
const { values } = parseArgs({
  args: argv,
  options: {
    trace: { type: 'string' },
    workers: { type: 'string', default: '8' },
    'blocks-per-worker': { type: 'string', default: '16384' },
    'block-size': { type: 'string', default: '16' },
    'prefill-tps': { type: 'string', default: '20000' },
    'decode-ms': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'kv-overlap-score-weight': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const positive = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const WORKERS = positive('workers', values.workers);
const BLOCKS = positive('blocks-per-worker', values['blocks-per-worker']);
const BLOCK_SIZE = positive('block-size', values['block-size']);
const PREFILL_TPS = positive('prefill-tps', values['prefill-tps']);
const DECODE_MS = positive('decode-ms', values['decode-ms']);
const SEED = BigInt(values.seed);
const WEIGHT = Number(values['kv-overlap-score-weight']);
if (!Number.isFinite(WEIGHT) || WEIGHT < 0) throw new Error('--kv-overlap-score-weight must be ≥ 0');
const tracePath =
  values.trace ?? new URL('../../packages/simulator/traces/conversation-slice.jsonl', import.meta.url);
const trace: TraceRequest[] = parseTrace(readFileSync(tracePath, 'utf8'));

interface Row {
  router: string;
  requests: number;
  hit_rate: number;
  prefill_imbalance: number;
  request_imbalance: number;
  peak_active_imbalance: number;
  seconds: number;
}

/** A router under test: its fleet policy, plus hooks into the replay's clock and the fleet's events. */
interface Contender {
  name: string;
  policy: AssignmentPolicy;
  /** Called with the engine's result: the kvindex routers book completion times here. */
  onStep?(step: ReturnType<SimFleet['handle']>): void;
}

function maxOverMean(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean === 0 ? 1 : Math.max(...xs) / mean;
}

/** In-flight requests on trace time: prefill ends after uncached/PREFILL_TPS, decode after output × DECODE_MS. */
class InFlight {
  private readonly ends: Array<{ at: number; run: () => void }> = [];
  schedule(at: number, run: () => void): void {
    let i = this.ends.length;
    while (i > 0 && this.ends[i - 1]!.at > at) i--;
    this.ends.splice(i, 0, { at, run });
  }
  advance(to: number): void {
    while (this.ends.length > 0 && this.ends[0]!.at <= to) this.ends.shift()!.run();
  }
}

function kvRouterContender(
  name: string,
  approximate: boolean,
  clock: { now: number },
  flight: InFlight,
  trackActiveBlocks = true,
): Contender {
  const rng = new SeededRandom(SEED);
  const config = {
    ...defaultRouterConfig(),
    overlapScoreWeight: WEIGHT,
    useKvEvents: !approximate,
    trackActiveBlocks,
  };
  const router = new KvRouter({
    blockSize: BLOCK_SIZE,
    config,
    now: () => clock.now,
    random: () => rng.nextU32() / 2 ** 32,
  });
  const index = new KvIndex();
  const approx = new ApproximateKvIndex({ ttlMs: config.ttlSecs * 1000, now: () => clock.now });
  const candidates: WorkerKey[] = Array.from({ length: WORKERS }, (_, i) => ({
    worker_id: BigInt(i),
    dp_rank: 0,
  }));
  const toMap = (m: MatchScores) => {
    const out = new Map<string, number>();
    for (let i = 0; i < m.count; i++) out.set(`${m.workerIds[i]}:${m.dpRanks[i]}`, m.scores[i]!);
    return out;
  };
  const policy = bestMatch((localHashes, request) => {
    const hashes = Array.from(localHashes);
    const source = approximate ? approx.index : index;
    const overlaps = toMap(approximate ? approx.findMatches(hashes) : index.findMatches(hashes));
    const treeSizes = new Map(source.treeSizes().map((r) => [`${r.worker_id}:${r.dp_rank}`, r.blocks]));
    const decision = router.route({
      requestId: String(request.index),
      localHashes,
      requestTokens: request.tokens.length,
      candidates,
      overlaps,
      treeSizes,
    });
    if (approximate) approx.recordRouting(decision.worker.worker_id, decision.worker.dp_rank, hashes);
    return decision.worker;
  });
  return {
    name,
    policy,
    onStep(step) {
      const id = String(step.request.index);
      const uncached = Math.max(0, step.request.tokens.length - step.output.hitBlocks * BLOCK_SIZE);
      const prefillEnd = clock.now + (uncached / PREFILL_TPS) * 1000;
      flight.schedule(prefillEnd, () => router.markPrefillCompleted(id));
      flight.schedule(prefillEnd + step.request.trace.outputLength * DECODE_MS, () => router.free(id));
      if (!approximate) for (const e of stepEvents(step)) index.applyEvent(e);
    },
  };
}

function replay(
  make: (clock: { now: number }, flight: InFlight) => Contender,
  fleetShape = { workers: WORKERS, blocks: BLOCKS },
): Row {
  const clock = { now: 0 };
  const flight = new InFlight();
  const contender = make(clock, flight);
  const WORKERS = fleetShape.workers;
  const fleet = new SimFleet({
    workers: WORKERS,
    blocksPerEngine: fleetShape.blocks,
    blockSize: BLOCK_SIZE,
    policy: contender.policy,
    seed: SEED,
  });
  const started = performance.now();
  let promptTokens = 0;
  let hitTokens = 0;
  const prefill = new Array<number>(WORKERS).fill(0);
  const requests = new Array<number>(WORKERS).fill(0);
  // Active requests per worker on trace time (for every router alike), sampled at each arrival.
  const active = new Array<number>(WORKERS).fill(0);
  const activeFlight = new InFlight();
  let peakImbalanceSum = 0;
  let samples = 0;
  trace.forEach((t, i) => {
    clock.now = t.timestamp;
    flight.advance(clock.now);
    activeFlight.advance(clock.now);
    const step = fleet.handle(prepareRequest(t, BLOCK_SIZE, i));
    contender.onStep?.(step);
    const w = step.engineIndex;
    const reused = Math.min(step.output.hitBlocks * BLOCK_SIZE, t.inputLength);
    promptTokens += t.inputLength;
    hitTokens += reused;
    prefill[w]! += t.inputLength - reused;
    requests[w]!++;
    active[w]!++;
    const end = clock.now + ((t.inputLength - reused) / PREFILL_TPS) * 1000 + t.outputLength * DECODE_MS;
    activeFlight.schedule(end, () => {
      active[w]!--;
    });
    peakImbalanceSum += maxOverMean(active);
    samples++;
  });
  return {
    router: contender.name,
    requests: trace.length,
    hit_rate: hitTokens / promptTokens,
    prefill_imbalance: maxOverMean(prefill),
    request_imbalance: maxOverMean(requests),
    peak_active_imbalance: peakImbalanceSum / samples,
    seconds: (performance.now() - started) / 1000,
  };
}

const rows: Row[] = [
  // Reference ceilings (imbalance is meaningless there): the fleet's whole cache as one pool, and a
  // cache that never evicts.
  replay(() => ({ name: '(one pooled cache of the fleet’s size)', policy: roundRobin() }), {
    workers: 1,
    blocks: WORKERS * BLOCKS,
  }),
  replay(() => ({ name: '(one unbounded cache)', policy: roundRobin() }), { workers: 1, blocks: 1 << 21 }),
  replay(() => ({ name: 'random', policy: randomAssignment(SEED) })),
  replay(() => ({ name: 'round-robin', policy: roundRobin() })),
  replay((clock, flight) => kvRouterContender('kvindex approximate (--no-kv-events)', true, clock, flight)),
  replay((clock, flight) => kvRouterContender('kvindex event-driven', false, clock, flight)),
  // Reference: cache affinity alone (Dynamo's --no-track-active-blocks), no load term.
  replay((clock, flight) =>
    kvRouterContender('kvindex event-driven --no-track-active-blocks', false, clock, flight, false),
  ),
];

if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log(
    `trace ${typeof tracePath === 'string' ? tracePath : 'conversation-slice.jsonl'}: ${trace.length} requests; ` +
      `${WORKERS} workers × ${BLOCKS} blocks of ${BLOCK_SIZE} tokens; latency model ${PREFILL_TPS} prefill tok/s, ${DECODE_MS} ms/output token; ` +
      `kvindex overlap score weight ${WEIGHT}`,
  );
  console.log(
    '| router | hit rate | prefill imbalance (max/mean) | request imbalance | mean active imbalance | replay s |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.router} | ${(r.hit_rate * 100).toFixed(1)} % | ${r.prefill_imbalance.toFixed(2)} | ${r.request_imbalance.toFixed(2)} | ${r.peak_active_imbalance.toFixed(2)} | ${r.seconds.toFixed(1)} |`,
    );
  }
}
