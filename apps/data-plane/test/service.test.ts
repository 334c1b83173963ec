import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeBlockHashes, computeSequenceHashes } from '@kvindex/core';
import { VllmZmqPublisher } from '@kvindex/transport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DataPlaneProcess, startDataPlane, until } from './support/data-plane-process.ts';

// The service as users run it: a real process, real vLLM-wire ZMQ publishers on loopback, HTTP.

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const BS = 4;
const TOKENS = Array.from({ length: 16 }, (_, i) => i + 1);
const local = computeBlockHashes(TOKENS, BS);
const seq = computeSequenceHashes(local);

async function post(base: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-trace-id': 'trace-123' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

function storeChain(pub: VllmZmqPublisher, blocks: number) {
  return pub.publish([
    {
      type: 'BlockStored',
      block_hashes: seq.slice(0, blocks),
      parent_block_hash: null,
      token_ids: TOKENS.slice(0, blocks * BS),
      block_size: BS,
    },
  ]);
}

async function score(base: string, model = 'm'): Promise<Record<string, Record<string, number>> | undefined> {
  const r = await post(base, '/query', { token_ids: TOKENS, model_name: model });
  return r.status === 200
    ? (JSON.parse(r.text) as { scores: Record<string, Record<string, number>> }).scores
    : undefined;
}

describe('data plane process', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kvindex-dp-'));
  const publishers: VllmZmqPublisher[] = [];
  const processes: DataPlaneProcess[] = [];
  let pub: VllmZmqPublisher;

  beforeAll(async () => {
    pub = await VllmZmqPublisher.bind({});
    publishers.push(pub);
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.stop('SIGKILL');
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.close()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ingests live vLLM events, answers queries, writes the access log and metrics, exits cleanly on SIGTERM', async () => {
    const accessLog = join(tmp, 'access.log');
    const dp = await startDataPlane(['--demo', 'off', '--access-log', accessLog]);
    processes.push(dp);
    const reg = await post(dp.url, '/register', {
      instance_id: 7,
      endpoint: pub.endpoint,
      replay_endpoint: pub.replayEndpoint,
      model_name: 'm',
      block_size: BS,
    });
    expect([reg.status, reg.text]).toEqual([201, '{"status":"ok"}']);
    // Publish until the SUB socket is connected and the store lands (PUB drops before that).
    const scores = await until('the stored chain to be scored', async () => {
      await storeChain(pub, 3);
      const s = await score(dp.url);
      return s?.['7'] ? s : undefined;
    });
    expect(scores).toEqual({ '7': { '0': 12 } });
    await until('the listener to report active', async () => {
      const w = JSON.parse(await (await fetch(`${dp.url}/workers`)).text()) as Array<{ status: string }>;
      return w[0]?.status === 'active' ? true : undefined;
    });
    // Bad wire data is a counted drop, visible per reason; the good chain stays.
    await pub.publishPayload(Buffer.from([0xc1]));
    await pub.publish([
      {
        type: 'BlockStored',
        block_hashes: [99n],
        parent_block_hash: null,
        token_ids: [1, 2, 3, 4, 5, 6, 7, 8],
        block_size: 8,
      },
    ]);
    await storeChain(pub, 3);
    const dropped = await until('the drops to be counted', async () => {
      const text = await (await fetch(`${dp.url}/metrics`)).text();
      return /kvindex_events_dropped\{model="m",routing_group="default",reason="block_size_mismatch"\} [1-9]/.test(
        text,
      ) && /reason="message_(invalid_msgpack|batch_shape)"\} [1-9]/.test(text)
        ? text
        : undefined;
    });
    expect(dropped).toContain('kvindex_events_dropped');
    expect(await score(dp.url)).toEqual({ '7': { '0': 12 } });
    const ready = await fetch(`${dp.url}/readyz`);
    expect(ready.status).toBe(200);

    const metrics = await (await fetch(`${dp.url}/metrics`)).text();
    expect(metrics).toContain('dynamo_kvindexer_requests_total{endpoint="/register",method="POST"} 1');
    expect(metrics).toMatch(
      /dynamo_kvrouter_kv_cache_events_applied\{event_type="stored",status="ok"\} [1-9]/,
    );
    expect(metrics).toContain('dynamo_kvindexer_listeners{status="active"} 1');
    expect(metrics).toContain('dynamo_kvindexer_models 1');
    expect(metrics).toContain(
      'dynamo_kvindexer_request_duration_seconds_bucket{le="0.0001",endpoint="/query"}',
    );
    expect(metrics).toMatch(/kvindex_blocks\{model="m",routing_group="default",tier="device"\} 3/);
    expect(metrics).toContain('kvindex_process_cpu_seconds_total');
    expect(metrics).not.toContain('endpoint="/metrics"');

    expect(await dp.stop('SIGTERM')).toBe(0);
    const lines = readFileSync(accessLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = lines[0]!;
    expect(Object.keys(first)).toEqual([
      'ts',
      'trace_id',
      'method',
      'path',
      'model',
      'status',
      'duration_ms',
    ]);
    expect(first).toMatchObject({
      trace_id: 'trace-123',
      method: 'POST',
      path: '/register',
      model: 'm',
      status: 201,
    });
    expect(first.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines.some((l) => l.path === '/workers' && l.model === '-' && l.trace_id === '-')).toBe(true);
  }, 40_000);

  it('--workers at start, then snapshot and peer recovery carry the index to a new process', async () => {
    const snapshots = join(tmp, 'snapshots');
    const a = await startDataPlane([
      '--workers',
      `3=${pub.endpoint}`,
      '--block-size',
      String(BS),
      '--model-name',
      'm',
      '--snapshot-dir',
      snapshots,
      '--snapshot-interval',
      '1',
    ]);
    processes.push(a);
    const workers = JSON.parse(await (await fetch(`${a.url}/workers`)).text()) as Array<
      Record<string, unknown>
    >;
    expect(workers).toMatchObject([
      { instance_id: 3, model_name: 'm', block_size: BS, endpoints: { '0': pub.endpoint } },
    ]);
    await until('worker 3 to be scored', async () => {
      await storeChain(pub, 4);
      const s = await score(a.url);
      return s?.['3']?.['0'] === 16 ? true : undefined;
    });
    await until('a snapshot file', async () =>
      readdirSync(snapshots).some((f) => f.endsWith('.json')) ? true : undefined,
    );

    // Peer recovery: B starts with --peers A and serves A's index before any listener of its own.
    const b = await startDataPlane(['--peers', a.url, '--demo', 'off'], {}, 30_000);
    processes.push(b);
    expect(await score(b.url)).toEqual({ '3': { '0': 16 } });
    expect(JSON.parse(await (await fetch(`${b.url}/peers`)).text())).toEqual([a.url]);

    // Snapshot: C loads the newest snapshot of A at start.
    expect(await a.stop('SIGTERM')).toBe(0);
    const c = await startDataPlane(['--snapshot-dir', snapshots, '--demo', 'off']);
    processes.push(c);
    expect(await score(c.url)).toEqual({ '3': { '0': 16 } });
  }, 60_000);

  it('DYN_ROUTER_MIN_INITIAL_WORKERS delays HTTP until enough instances are registered', async () => {
    const started = startDataPlane(['--workers', `1=${pub.endpoint}`, '--block-size', '4', '--demo', 'off'], {
      DYN_ROUTER_MIN_INITIAL_WORKERS: '1',
    });
    const dp = await started;
    processes.push(dp);
    expect((await fetch(`${dp.url}/health`)).status).toBe(200);
    // With more required than --workers provides, the port never opens; SIGTERM still ends it cleanly.
    const waiting = spawn(
      process.execPath,
      [
        '--conditions=source',
        MAIN,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--workers',
        `1=${pub.endpoint}`,
        '--block-size',
        '4',
      ],
      { env: { ...process.env, DYN_ROUTER_MIN_INITIAL_WORKERS: '2' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    waiting.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await until('the wait to begin', async () => (out.includes('waiting for workers') ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(out).not.toContain('"url"');
    const code = new Promise<number | null>((resolve) => waiting.on('exit', resolve));
    waiting.kill('SIGTERM');
    expect(await code).toBe(0);
  }, 30_000);
});
