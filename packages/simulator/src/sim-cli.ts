#!/usr/bin/env node
/**
 * Writes a replay workload directory (events.jsonl, requests.jsonl, workload.json) from a Mooncake
 * trace: `pnpm sim -- --out DIR [options]`. The only module of the package that does I/O.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringifyJsonExact } from '@kvindex/core';
import { REMOVED_EVENT_MODES, type RemovedEventMode } from './engine.ts';
import { ENGINE_HASH_MODES, type EngineHashMode } from './engine-hashes.ts';
import { POLICY_NAMES, type PolicyName } from './policy.ts';
import { parseTrace, TraceFormatError } from './trace.ts';
import { generateWorkload } from './workload.ts';

const BUNDLED_TRACE = new URL('../traces/conversation-slice.jsonl', import.meta.url);

const USAGE = `usage: pnpm sim -- --out DIR [options]

  --trace PATH            Mooncake trace (JSON lines); default: the bundled conversation slice
  --requests N            replay only the first N requests (default: all)
  --workers N             workers (default 64)
  --dp-ranks N            data-parallel ranks per worker, each its own pool (default 1)
  --blocks-per-worker C   pool size of each worker dp rank, in blocks (default 16384)
  --block-size N          tokens per block (default 16)
  --policy P              ${POLICY_NAMES.join(' | ')} (default round-robin)
  --engine-hashes M       ${ENGINE_HASH_MODES.join(' | ')} (default shared)
  --removed M             ${REMOVED_EVENT_MODES.join(' | ')}: one Removed event per evicted block as vLLM, or one per request (default per-block)
  --seed N                u64 seed for random assignment, session hashing and per-engine hashes (default 0)
  --out DIR               output directory (created; files overwritten)
`;

/** Buffers lines and writes them synchronously in large chunks: bounded memory, no backpressure to manage. */
class LineFile {
  private readonly fd: number;
  private chunks: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: string): void {
    this.chunks.push(line, '\n');
    this.pending += line.length + 1;
    if (this.pending >= 1 << 22) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const buffer = Buffer.from(this.chunks.join(''), 'utf8');
    let offset = 0;
    while (offset < buffer.length) offset += writeSync(this.fd, buffer, offset);
    this.bytes += buffer.length;
    this.chunks = [];
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      trace: { type: 'string' },
      requests: { type: 'string' },
      workers: { type: 'string' },
      'dp-ranks': { type: 'string' },
      'blocks-per-worker': { type: 'string' },
      'block-size': { type: 'string' },
      policy: { type: 'string' },
      'engine-hashes': { type: 'string' },
      removed: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError('--out DIR is required');
  const seedText = values.seed ?? '0';
  if (!/^\d+$/.test(seedText) || BigInt(seedText) >= 2n ** 64n) {
    throw new UsageError(`--seed must be an integer in [0, 2^64-1], got ${JSON.stringify(seedText)}`);
  }
  const tracePath = values.trace ? resolve(values.trace) : fileURLToPath(BUNDLED_TRACE);
  const requests = values.requests === undefined ? undefined : positiveInt('requests', values.requests, 0);
  const params = {
    trace: tracePath,
    requests,
    workers: positiveInt('workers', values.workers, 64),
    dpRanks: positiveInt('dp-ranks', values['dp-ranks'], 1),
    blocksPerWorker: positiveInt('blocks-per-worker', values['blocks-per-worker'], 16384),
    blockSize: positiveInt('block-size', values['block-size'], 16),
    policy: oneOf<PolicyName>('policy', values.policy, POLICY_NAMES, 'round-robin'),
    engineHashes: oneOf<EngineHashMode>(
      'engine-hashes',
      values['engine-hashes'],
      ENGINE_HASH_MODES,
      'shared',
    ),
    removedEvents: oneOf<RemovedEventMode>('removed', values.removed, REMOVED_EVENT_MODES, 'per-block'),
    seed: BigInt(seedText),
  };

  const started = performance.now();
  const trace = parseTrace(readFileSync(tracePath, 'utf8'), { source: tracePath, limit: requests });
  const outDir = resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const events = new LineFile(join(outDir, 'events.jsonl'));
  const requestLines = new LineFile(join(outDir, 'requests.jsonl'));
  let summary: ReturnType<typeof generateWorkload>;
  try {
    summary = generateWorkload(trace, params, {
      event: (line) => events.write(line),
      request: (line) => requestLines.write(line),
    });
  } finally {
    events.close();
    requestLines.close();
  }
  writeFileSync(join(outDir, 'workload.json'), `${stringifyJsonExact(summary)}\n`);
  const seconds = (performance.now() - started) / 1000;
  const mb = (events.bytes + requestLines.bytes) / 1e6;
  const c = summary.counts;
  process.stderr.write(
    `wrote ${outDir}: ${c.requests} requests, ${c.events} events (${c.stored_blocks} blocks stored, ` +
      `${c.removed_blocks} removed, ${c.hit_blocks}/${c.request_blocks} hit), ${mb.toFixed(1)} MB in ${seconds.toFixed(1)} s\n`,
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (
    err instanceof UsageError ||
    err instanceof TraceFormatError ||
    (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  ) {
    process.stderr.write(
      `sim: ${(err as Error).message}\n${err instanceof TraceFormatError ? '' : `\n${USAGE}`}`,
    );
    process.exitCode = 2;
  } else throw err;
}
