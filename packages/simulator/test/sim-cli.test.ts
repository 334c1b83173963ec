import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseJsonExact } from '@kvindex/core';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../src/sim-cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kvindex-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sim(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      '--conditions=source',
      CLI,
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sim CLI', () => {
  it('writes a workload directory from the bundled slice', async () => {
    const out = join(dir, 'w');
    const args = [
      '--requests',
      '40',
      '--workers',
      '4',
      '--dp-ranks',
      '2',
      '--blocks-per-worker',
      '500',
      '--out',
      out,
    ];
    const r = await sim(
      ...args,
      '--policy',
      'session',
      '--engine-hashes',
      'per-engine',
      '--seed',
      '18446744073709551615',
    );
    expect(r.stderr).toMatch(/wrote .*: 40 requests/);
    expect(r.code).toBe(0);
    const workload = parseJsonExact(readFileSync(join(out, 'workload.json'), 'utf8')) as {
      parameters: Record<string, unknown>;
      counts: { events: number; requests: number };
    };
    expect(workload.parameters).toMatchObject({
      requests: 40,
      workers: 4,
      dp_ranks: 2,
      blocks_per_worker: 500,
      block_size: 16,
      policy: 'session',
      engine_hashes: 'per-engine',
      seed: 18446744073709551615n,
    });
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    const requests = readFileSync(join(out, 'requests.jsonl'), 'utf8').trimEnd().split('\n');
    expect(events.length).toBe(workload.counts.events);
    expect(requests.length).toBe(40);
    const last = parseJsonExact(requests[39]!) as { events: [number, number] };
    expect(last.events[1]).toBe(events.length);
  });

  it('refuses bad options with a message and exit code 2', async () => {
    const r = await sim('--out', join(dir, 'x'), '--policy', 'fastest');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--policy must be one of round-robin, session, random/);
    expect((await sim('--workers', '4')).stderr).toMatch(/--out DIR is required/);
    expect((await sim('--out', dir, '--block-size', '0')).stderr).toMatch(
      /--block-size must be a positive integer/,
    );
    expect((await sim('--out', dir, '--bogus')).code).toBe(2);
  });

  it('names the bad trace line', async () => {
    const trace = join(dir, 'bad.jsonl');
    writeFileSync(
      trace,
      '{"timestamp": 0, "input_length": 3, "output_length": 2, "hash_ids": [4]}\n{"timestamp": 0}\n',
    );
    const r = await sim('--trace', trace, '--out', join(dir, 'y'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${trace}:2: "input_length" must be a non-negative integer`);
  });
});
