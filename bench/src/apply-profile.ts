/**
 * Profiles phase (A) of the index race alone: loads a workload's events into memory (untimed),
 * then applies them into a fresh KvIndex with the V8 CPU profiler on, and writes the profile.
 *
 *   node --expose-gc --conditions=source bench/src/apply-profile.ts --workload DIR [--out FILE] [--limit N]
 *     [--no-profile]
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import type { RouterEvent } from '@kvindex/core';
import { KvIndex } from '@kvindex/indexer';
import { eventBlocks, eventChunks } from './workload-reader.ts';

const { values } = parseArgs({
  options: {
    workload: { type: 'string' },
    out: { type: 'string', default: 'apply.cpuprofile' },
    limit: { type: 'string', default: '2000000' },
    'no-profile': { type: 'boolean', default: false },
  },
});
if (!values.workload) throw new Error('--workload DIR is required');
const limit = Number(values.limit);
const events: RouterEvent[] = [];
let blocks = 0;
for await (const chunk of eventChunks(values.workload)) {
  for (const e of chunk) {
    if (events.length >= limit) break;
    events.push(e);
    blocks += eventBlocks(e);
  }
  if (events.length >= limit) break;
}
(globalThis as { gc?: () => void }).gc?.();
const session = new Session();
session.connect();
if (!values['no-profile']) {
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const index = new KvIndex();
const t0 = performance.now();
for (let i = 0; i < events.length; i++) index.applyEvent(events[i]!);
const ms = performance.now() - t0;
if (!values['no-profile']) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.out, JSON.stringify(profile));
}
process.stdout.write(
  `${events.length} events, ${blocks} blocks in ${ms.toFixed(0)} ms: ${((blocks / ms) * 1000).toExponential(3)} blocks/s\n`,
);
