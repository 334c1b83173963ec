import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expandTokens, parseTrace } from '@kvindex/simulator';
import { defaultTracePath } from '../demo/demo-fleet.ts';

/**
 * How ingestion and queries share the data plane's one JavaScript thread: a data-plane process
 * ingests a simulated fleet's vLLM ZMQ stream at a fixed offered rate (publishers in a child
 * process) while this process sends /query with 8k-token prompts at a fixed rate (open loop, so a
 * stalled server shows as latency, not as fewer requests), once per ingest slice setting.
 *
 *   node --conditions=source apps/data-plane/src/bench/ingest-vs-query.ts \
 *     [--slices 2,0] [--qps 200] [--seconds 10] [--publishers 4] [--blocks-per-second 50000]
 */

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const slices = arg('slices', '2,0').split(',').map(Number);
const qps = Number(arg('qps', '200'));
const seconds = Number(arg('seconds', '10'));
const publishers = Number(arg('publishers', '4'));
const blocksPerSecond = Number(arg('blocks-per-second', '50000'));
const BLOCK_SIZE = 16;
const PROMPT_TOKENS = 8192;

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const CHILD = fileURLToPath(new URL('./publisher-child.ts', import.meta.url));

const trace = parseTrace(readFileSync(defaultTracePath(), 'utf8'));
const prompts = trace
  .filter((t) => t.inputLength >= PROMPT_TOKENS)
  .slice(0, 64)
  .map((t) =>
    JSON.stringify({
      model_name: 'bench',
      token_ids: Array.from(expandTokens(t).subarray(0, PROMPT_TOKENS)),
    }),
  );

async function startDataPlane(sliceMs: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
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
  await new Promise((r) => setTimeout(r, 500));
  pub.send({ cmd: 'go' });
  await new Promise((r) => setTimeout(r, 2000));

  const latencies: number[] = [];
  let errors = 0;
  let maxQueue = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  const sampler = setInterval(async () => {
    try {
      const s = (await (await fetch(`${dp.url}/v1/stats`)).json()) as { ingest: { queue_events: number } };
      maxQueue = Math.max(maxQueue, s.ingest.queue_events);
    } catch {}
  }, 500);
  for (let i = 0; i < qps * seconds; i++) {
    const due = started + (i * 1000) / qps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = prompts[i % prompts.length]!;
    const t0 = performance.now();
    pending.push(
      fetch(`${dp.url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (res) => {
          const text = await res.text();
          if (res.status !== 200 && errors++ === 0)
            console.error(`first failed query: HTTP ${res.status} ${text.slice(0, 200)}`);
          // Open loop: latency counts from when the request was due, not when it was sent.
          latencies.push(performance.now() - Math.min(t0, due));
        })
        .catch((err: Error) => {
          if (errors++ === 0)
            console.error(`first failed query: ${err.message} ${String((err as { cause?: unknown }).cause)}`);
        }),
    );
  }
  await Promise.all(pending);
  clearInterval(sampler);
  const elapsed = (performance.now() - started) / 1000;
  const published = await new Promise<number>((resolve) => {
    pub.once('message', (m: { published: number }) => resolve(m.published));
    pub.send({ cmd: 'stop' });
  });
  const rss = await metric(dp.url, 'kvindex_process_resident_memory_bytes');
  const blocks = await metric(dp.url, 'kvindex_blocks');
  const queueAtEnd = await metric(dp.url, 'kvindex_ingest_queue_events');
  const longestSlice = await metric(dp.url, 'kvindex_ingest_longest_slice_seconds');
  dp.child.kill('SIGTERM');
  latencies.sort((a, b) => a - b);
  return {
    slice_ms: sliceMs === 0 ? 'none (apply on arrival)' : sliceMs,
    offered_blocks_per_s: Math.round(published / (elapsed + 2)),
    queries: latencies.length,
    errors,
    achieved_qps: Math.round(latencies.length / elapsed),
    p50_ms: +percentile(latencies, 0.5).toFixed(2),
    p99_ms: +percentile(latencies, 0.99).toFixed(2),
    p999_ms: +percentile(latencies, 0.999).toFixed(2),
    max_ms: +latencies[latencies.length - 1]!.toFixed(2),
    longest_ingest_stretch_ms: +(longestSlice * 1000).toFixed(1),
    max_queue_events: maxQueue,
    queue_at_end: queueAtEnd,
    device_blocks_indexed: blocks,
    rss_mb: Math.round(rss / 2 ** 20),
  };
}

const results = [];
for (const s of slices) results.push(await runOnce(s));
console.table(results);
console.log(
  JSON.stringify(
    { qps, seconds, publishers, blocksPerSecond, prompt_tokens: PROMPT_TOKENS, results },
    null,
    2,
  ),
);
process.exit(0);
