/**
 * The index race (issue 9): replays a workload directory through kvindex's KvIndex and, in the
 * same run, through Dynamo 1.6.1's RadixTree (test/oracle `race` mode), and prints both rows and
 * the ratios kvindex / Dynamo.
 *
 *   pnpm bench:index -- --workload DIR [--json] [--no-oracle] [--runs N] [--router-events]
 *
 * With --runs N both systems run N times, alternating, and each row keeps every metric's best
 * run (highest rate, lowest latency and memory): on a shared machine the best run is the one
 * least disturbed by other work, for both systems alike.
 *
 * (A) apply every event into a fresh index, timed (parsing is not); heap per cached block after A.
 * (B) per request in order: time findMatches on its local hashes, check the scores against
 *     expected_hits, then apply its events.
 *
 * Each system gets events in its own decoded form, made untimed: the oracle Rust `RouterEvent`
 * structs, kvindex `ColumnarBatch`es (u32-half columns, what its ZMQ ingest worker hands the
 * index). With --router-events kvindex instead gets `RouterEvent` objects with BigInt hashes
 * (the NATS/JSON path), converted per block inside the timed apply.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ColumnarBatch, KvIndex, packEvents } from '@kvindex/indexer';
import { eventBlocks, eventChunks, readRequests } from './workload-reader.ts';

export interface RaceRow {
  system: string;
  apply_blocks_per_s: number;
  find_queries_per_s: number;
  find_p50_us: number;
  find_p99_us: number;
  find_p999_us: number;
  heap_bytes_per_block: number;
  score_mismatches: number;
}

const argv = process.argv.slice(2);
// `pnpm bench:index -- --workload DIR` passes the separator through.
if (argv[0] === '--') argv.shift();
const { values } = parseArgs({
  args: argv,
  options: {
    workload: { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-oracle': { type: 'boolean', default: false },
    runs: { type: 'string', default: '1' },
    'router-events': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (!values.workload) {
  process.stderr.write(
    'usage: pnpm bench:index -- --workload DIR [--json] [--no-oracle] [--runs N] [--router-events]\n',
  );
  process.exit(2);
}
const dir = values.workload;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write(
    'index-race: run node with --expose-gc (the bench:index script does) for heap figures\n',
  );
}

function memory(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A piece of the workload in the form one kvindex run applies. */
interface Chunk {
  events: number;
  blocks: number;
  apply(index: KvIndex, from: number, to: number): void;
}

/** The workload packed into batches once, up front (and untimed), when runs use batches. */
let packed: ColumnarBatch[] | undefined;

async function* workloadChunks(objects: boolean): AsyncGenerator<Chunk> {
  if (!objects) {
    if (!packed) {
      packed = [];
      for await (const events of eventChunks(dir)) packed.push(packEvents(events));
    }
    for (const batch of packed) {
      yield {
        events: batch.length,
        blocks: batch.starts[batch.length]!,
        apply: (index, from, to) => index.applyBatch(batch, from, to),
      };
    }
    return;
  }
  // RouterEvent objects for every event of a large workload would not fit: parse chunk by chunk.
  for await (const events of eventChunks(dir)) {
    let blocks = 0;
    for (const ev of events) blocks += eventBlocks(ev);
    yield {
      events: events.length,
      blocks,
      apply: (index, from, to) => {
        for (let i = from; i < to; i++) index.applyEvent(events[i]!);
      },
    };
  }
}

/** `objects`: RouterEvent objects (BigInt hashes) instead of columnar batches. */
async function raceKvindex(objects: boolean): Promise<RaceRow> {
  // (A)
  const chunksA = workloadChunks(objects);
  const first = await chunksA.next();
  const base = memory();
  let index: KvIndex | undefined = new KvIndex();
  let blocks = 0;
  let applyNs = 0n;
  for (let next = first; !next.done; next = await chunksA.next()) {
    const chunk = next.value;
    blocks += chunk.blocks;
    // Parsing garbage is collected before timing, so the clock sees only the index's own GC.
    gc?.();
    const t0 = process.hrtime.bigint();
    chunk.apply(index, 0, chunk.events);
    applyNs += process.hrtime.bigint() - t0;
  }
  const heap = memory() - base;
  const size = index.currentSize;
  index = undefined;

  // (B)
  const requests = await readRequests(dir);
  const tree = new KvIndex();
  const latencies = new Float64Array(requests.length);
  let mismatches = 0;
  let shown = 0;
  const chunksB = workloadChunks(objects);
  let chunk: Chunk = { events: 0, blocks: 0, apply: () => {} };
  let chunkStart = 0;
  let findNs = 0;
  for (let r = 0; r < requests.length; r++) {
    const req = requests[r]!;
    // performance.now() allocates nothing (hrtime.bigint() would allocate inside the window).
    const t0 = performance.now();
    const m = tree.findMatchesHalves(req.queryLo, req.queryHi, req.queryLo.length, false);
    const ns = (performance.now() - t0) * 1e6;
    findNs += ns;
    latencies[r] = ns / 1000;
    let ok = m.count === req.expected.size;
    for (let i = 0; ok && i < m.count; i++)
      ok = req.expected.get(`${m.workerIds[i]}:${m.dpRanks[i]}`) === m.scores[i];
    if (!ok) {
      mismatches++;
      if (shown++ < 5) process.stderr.write(`score mismatch at req ${req.req}\n`);
    }
    for (let e = req.eventsStart; e < req.eventsEnd; ) {
      while (e >= chunkStart + chunk.events) {
        chunkStart += chunk.events;
        const next = await chunksB.next();
        if (next.done) throw new Error(`requests.jsonl refers to event ${e}, past the end of events.jsonl`);
        chunk = next.value;
        gc?.();
      }
      const upTo = Math.min(req.eventsEnd, chunkStart + chunk.events);
      chunk.apply(tree, e - chunkStart, upTo - chunkStart);
      e = upTo;
    }
  }
  latencies.sort();
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(p * latencies.length) - 1))] ?? 0;
  return {
    system: objects ? 'kvindex (RouterEvent objects)' : 'kvindex',
    apply_blocks_per_s: blocks / (Number(applyNs) / 1e9),
    find_queries_per_s: requests.length / (findNs / 1e9),
    find_p50_us: pct(0.5),
    find_p99_us: pct(0.99),
    find_p999_us: pct(0.999),
    heap_bytes_per_block: size > 0 ? heap / size : 0,
    score_mismatches: mismatches,
  };
}

function raceOracle(): RaceRow {
  const build = fileURLToPath(new URL('../../test/oracle/build.sh', import.meta.url));
  const binary = execFileSync('bash', [build], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;
  const out = execFileSync(binary, ['race', '--workload', dir, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as RaceRow;
}

function best(runs: RaceRow[]): RaceRow {
  const max = (k: keyof RaceRow) => Math.max(...runs.map((r) => r[k] as number));
  const min = (k: keyof RaceRow) => Math.min(...runs.map((r) => r[k] as number));
  return {
    system: runs[0]!.system,
    apply_blocks_per_s: max('apply_blocks_per_s'),
    find_queries_per_s: max('find_queries_per_s'),
    find_p50_us: min('find_p50_us'),
    find_p99_us: min('find_p99_us'),
    find_p999_us: min('find_p999_us'),
    heap_bytes_per_block: min('heap_bytes_per_block'),
    score_mismatches: max('score_mismatches'),
  };
}

const runCount = Math.max(1, Number(values.runs));
const ourRuns: RaceRow[] = [];
const oracleRuns: RaceRow[] = [];
for (let i = 0; i < runCount; i++) {
  ourRuns.push(await raceKvindex(values['router-events'] === true));
  if (!values['no-oracle']) oracleRuns.push(raceOracle());
}
const rows: RaceRow[] = [best(ourRuns)];
if (oracleRuns.length > 0) rows.push(best(oracleRuns));

if (values.json) {
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
} else {
  const cols: (keyof RaceRow)[] = [
    'apply_blocks_per_s',
    'find_queries_per_s',
    'find_p50_us',
    'find_p99_us',
    'find_p999_us',
    'heap_bytes_per_block',
    'score_mismatches',
  ];
  const fmt = (v: number | string) =>
    typeof v === 'number' ? (v >= 1000 ? v.toExponential(3) : v.toFixed(2)) : v;
  process.stdout.write(`workload: ${dir}\n`);
  process.stdout.write(`| system | ${cols.join(' | ')} |\n|---|${cols.map(() => '---:').join('|')}|\n`);
  for (const row of rows)
    process.stdout.write(`| ${row.system} | ${cols.map((c) => fmt(row[c])).join(' | ')} |\n`);
  const dynamo = rows.find((r) => r.system.startsWith('dynamo'));
  for (const k of dynamo ? rows.filter((r) => r !== dynamo) : []) {
    const d = dynamo!;
    // For latency and memory lower is better, so the ratio is Dynamo / kvindex: above 1 means kvindex wins.
    const better = (c: keyof RaceRow) =>
      c === 'apply_blocks_per_s' || c === 'find_queries_per_s'
        ? (k[c] as number) / (d[c] as number)
        : (d[c] as number) / (k[c] as number);
    process.stdout.write(
      `| ${k.system} vs Dynamo (>1 = kvindex better) | ${cols
        .slice(0, 6)
        .map((c) => `${better(c).toFixed(2)}×`)
        .join(' | ')} | |\n`,
    );
  }
}
