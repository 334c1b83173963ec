import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { expandTokens, parseTrace } from '@kvindex/simulator';
import { defaultTracePath } from '../demo/demo-fleet.ts';
import { runOpenLoop } from './open-loop-load.ts';

/**
 * How ingestion and queries share the data plane: a data-plane process ingests a simulated fleet's
 * vLLM ZMQ stream at a fixed offered rate (publishers in a child process) while this process sends
 * /query with 8k-token prompts at a fixed rate, open loop (a stalled server shows as latency, not
 * as fewer requests), once per ingest slice setting.
 *
 *   node --conditions=source apps/data-plane/src/bench/ingest-vs-query.ts \
 *     [--slices 2] [--qps 1000] [--seconds 8] [--publishers 8] [--blocks-per-second 100000] \
 *     [--prefill-blocks 160000] [--connections 32] [--warmup-seconds 3] [--profile-dir DIR] \
 *     [--data-plane-node-args "--max-semi-space-size=64"]
 *
 * Before the measured window the fleet publishes `--prefill-blocks` blocks as fast as the data
 * plane takes them, so queries walk a populated index even at 0 blocks/s, and the query path is
 * warmed up for `--warmup-seconds` at the same rate (not measured): a fresh process answers its
 * first few thousand queries from unoptimized code. The load generator
 * (./open-loop-load.ts) is node:http over at most `--connections` keep-alive connections: Node's
 * fetch cost about a core by itself at 1k QPS of 50 KB bodies and churned connections
 * (ECONNRESET) once the server fell behind. It shares the machine with the data plane and the
 * publishers; its CPU time is reported (`loadgen_cpu_s`) so it can be told apart from the data
 * plane's (`data_plane_cpu_s`). `--profile-dir` runs the data plane with `--cpu-prof`.
 */

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const slices = arg('slices', '2').split(',').map(Number);
const qps = Number(arg('qps', '1000'));
const seconds = Number(arg('seconds', '8'));
const publishers = Number(arg('publishers', '8'));
const blocksPerSecond = Number(arg('blocks-per-second', '100000'));
const prefillBlocks = Number(arg('prefill-blocks', '160000'));
const connections = Number(arg('connections', '32'));
const profileDir = arg('profile-dir', '');
const warmupSeconds = Number(arg('warmup-seconds', '3'));
/** Extra node options for the data-plane process, space-separated (e.g. V8 heap sizing). */
const dataPlaneNodeArgs = arg('data-plane-node-args', '').split(' ').filter(Boolean);
const BLOCK_SIZE = 16;
const PROMPT_TOKENS = 8192;

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const CHILD = fileURLToPath(new URL('./publisher-child.ts', import.meta.url));

const trace = parseTrace(readFileSync(defaultTracePath(), 'utf8'));
const prompts = trace
  .filter((t) => t.inputLength >= PROMPT_TOKENS)
  .slice(0, 64)
  .map((t) =>
    Buffer.from(
      JSON.stringify({
        model_name: 'bench',
        token_ids: Array.from(expandTokens(t).subarray(0, PROMPT_TOKENS)),
      }),
    ),
  );

async function startDataPlane(sliceMs: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ...dataPlaneNodeArgs,
      MAIN,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--demo',
      'off',
      '--ingest-slice-ms',
      String(sliceMs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`data plane exited ${code}`)));
  });
  child.stdout!.resume();
  return { url, child };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([-0-9.e+]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** utime + stime of a process, seconds (Linux /proc; the bench runs on Linux VMs). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function ingestQueue(url: string): Promise<number> {
  const s = (await (await fetch(`${url}/v1/stats`)).json()) as { ingest: { queue_events: number } };
  return s.ingest.queue_events;
}

async function runOnce(sliceMs: number) {
  const dp = await startDataPlane(sliceMs);
  const pub = fork(CHILD, [String(publishers), String(blocksPerSecond), String(BLOCK_SIZE)], {
    execArgv: ['--conditions=source'],
  });
  const endpoints = await new Promise<Array<{ endpoint: string; replay: string }>>((resolve) =>
    pub.once('message', (m: { endpoints: Array<{ endpoint: string; replay: string }> }) =>
      resolve(m.endpoints),
    ),
  );
  for (const [i, e] of endpoints.entries()) {
    await fetch(`${dp.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        instance_id: i + 1,
        endpoint: e.endpoint,
        replay_endpoint: e.replay,
        model_name: 'bench',
        block_size: BLOCK_SIZE,
      }),
    });
  }
  // Publishing before the SUB sockets are connected would be lost (PUB drops without subscribers).
  for (let i = 0; ; i++) {
    const workers = (await (await fetch(`${dp.url}/workers`)).json()) as Array<{ status: string }>;
    if (workers.length === endpoints.length && workers.every((w) => w.status === 'active')) break;
    if (i === 100) throw new Error(`listeners not active after 10 s: ${JSON.stringify(workers)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 200));
  if (prefillBlocks > 0) {
    await new Promise<void>((resolve) => {
      pub.once('message', () => resolve());
      pub.send({ cmd: 'prefill', blocks: prefillBlocks });
    });
    // Let the data plane finish the prefill before the measured window starts: events still being
    // decoded in the ingest worker are not in the queue yet, so wait for the count to settle too.
    let last = -1;
    for (let stable = 0, i = 0; stable < 3 && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const received = await metric(dp.url, 'kvindex_events_received_total');
      stable = received === last && (await ingestQueue(dp.url)) === 0 ? stable + 1 : 0;
      last = received;
    }
  }
  const prefilled = await metric(dp.url, 'kvindex_blocks');
  pub.send({ cmd: 'go' });
  await new Promise((r) => setTimeout(r, 1000));

  // A running service has its query path compiled: the first seconds of a fresh process run it
  // in V8's interpreter and baseline tiers (several times slower) and are not measured.
  if (warmupSeconds > 0)
    await runOpenLoop({
      url: `${dp.url}/query`,
      bodies: prompts,
      ratePerSecond: qps,
      seconds: warmupSeconds,
      connections,
    });

  let maxQueue = 0;
  const sampler = setInterval(async () => {
    try {
      maxQueue = Math.max(maxQueue, await ingestQueue(dp.url));
    } catch {}
  }, 500);
  const cpu = { dp: processCpuSeconds(dp.child.pid!), pub: processCpuSeconds(pub.pid!) };
  const ownCpu = process.cpuUsage();
  const load = await runOpenLoop({
    url: `${dp.url}/query`,
    bodies: prompts,
    ratePerSecond: qps,
    seconds,
    connections,
  });
  const own = process.cpuUsage(ownCpu);
  const dpCpu = processCpuSeconds(dp.child.pid!) - cpu.dp;
  const pubCpu = processCpuSeconds(pub.pid!) - cpu.pub;
  clearInterval(sampler);
  const elapsed = load.elapsedSeconds;
  const published = await new Promise<{ published: number; seconds: number }>((resolve) => {
    pub.once('message', (m: { published: number; seconds: number }) => resolve(m));
    pub.send({ cmd: 'stop' });
  });
  if (load.firstError) console.error(`first failed query: ${load.firstError}`);
  const handler = (
    (await (await fetch(`${dp.url}/v1/stats`)).json()) as { queries: { p50_ms: number; p99_ms: number } }
  ).queries;
  const rss = await metric(dp.url, 'kvindex_process_resident_memory_bytes');
  const blocks = await metric(dp.url, 'kvindex_blocks');
  const queueAtEnd = await metric(dp.url, 'kvindex_ingest_queue_events');
  const longestSlice = await metric(dp.url, 'kvindex_ingest_longest_slice_seconds');
  const exited = new Promise((r) => dp.child.once('exit', r));
  dp.child.kill('SIGTERM');
  await exited;
  const worstBySecond: number[] = [];
  for (let i = 0; i < load.latencies.length; i++) {
    const s = Math.floor(load.dueAt[i]!);
    worstBySecond[s] = Math.max(worstBySecond[s] ?? 0, load.latencies[i]!);
  }
  const latencies = load.latencies.sort((a, b) => a - b);
  const roundTrips = load.roundTrips.sort((a, b) => a - b);
  return {
    slice_ms: sliceMs === 0 ? 'none (apply on arrival)' : sliceMs,
    offered_blocks_per_s: Math.round(published.published / published.seconds),
    queries: latencies.length,
    errors: load.failed + load.non200,
    achieved_qps: Math.round(latencies.length / elapsed),
    p50_ms: +percentile(latencies, 0.5).toFixed(2),
    p99_ms: +percentile(latencies, 0.99).toFixed(2),
    p999_ms: +percentile(latencies, 0.999).toFixed(2),
    max_ms: +(latencies[latencies.length - 1] ?? Number.NaN).toFixed(2),
    /** From the request's write, not from when it was due: the pacing timer's lateness excluded. */
    round_trip_p50_ms: +percentile(roundTrips, 0.5).toFixed(2),
    round_trip_p99_ms: +percentile(roundTrips, 0.99).toFixed(2),
    /** The data plane's own /query handler time (parse, hash, match, respond), over its last 10 s. */
    handler_p50_ms: +handler.p50_ms.toFixed(3),
    handler_p99_ms: +handler.p99_ms.toFixed(3),
    data_plane_cpu_s: +dpCpu.toFixed(2),
    loadgen_cpu_s: +((own.user + own.system) / 1e6).toFixed(2),
    publishers_cpu_s: +pubCpu.toFixed(2),
    longest_ingest_stretch_ms: +(longestSlice * 1000).toFixed(1),
    max_queue_events: maxQueue,
    queue_at_end: queueAtEnd,
    blocks_after_prefill: prefilled,
    device_blocks_indexed: blocks,
    rss_mb: Math.round(rss / 2 ** 20),
    /** Where the tail sits in time: the slowest query due in each second of the window. */
    worst_ms_by_second: worstBySecond.map((ms) => Math.round(ms)),
  };
}

const results = [];
for (const s of slices) results.push(await runOnce(s));
console.table(results);
console.log(
  JSON.stringify(
    {
      qps,
      seconds,
      publishers,
      blocksPerSecond,
      prefillBlocks,
      connections,
      warmupSeconds,
      prompt_tokens: PROMPT_TOKENS,
      load_average: loadavg().map((l) => +l.toFixed(2)),
      results,
    },
    null,
    2,
  ),
);
process.exit(0);
