/**
 * Phase (A) of the index race repeated in one process, for comparing index changes: the
 * workload's events are packed once into one `ColumnarBatch` (flat u32 columns, so the JS heap
 * the GC walks is the index's own, not millions of parsed event objects), then applied `--reps`
 * times into fresh indexes. Reports blocks/s by wall clock and by this process's CPU time (less
 * disturbed by other work on a shared machine), and the best of each.
 *
 *   node --expose-gc --conditions=source bench/src/apply-repeat.ts --workload DIR [--reps 5]
 *     [--timed-from EVENT] [--timed-to EVENT]   (events before the range are applied untimed)
 */
import { parseArgs } from 'node:util';
import type { RouterEvent } from '@kvindex/core';
import { KvIndex, packEvents } from '@kvindex/indexer';
import { eventChunks } from './workload-reader.ts';

const { values } = parseArgs({
  options: {
    workload: { type: 'string' },
    reps: { type: 'string', default: '5' },
    'timed-from': { type: 'string', default: '0' },
    'timed-to': { type: 'string' },
  },
});
if (!values.workload) throw new Error('--workload DIR is required');

const all: RouterEvent[] = [];
for await (const chunk of eventChunks(values.workload)) for (const e of chunk) all.push(e);
const batch = packEvents(all);
all.length = 0;
const timedFrom = Number(values['timed-from']);
const timedTo = Math.min(batch.length, Number(values['timed-to'] ?? batch.length));
const timedBlocks = batch.starts[timedTo]! - batch.starts[timedFrom]!;

const gc = (globalThis as { gc?: () => void }).gc;
let bestWall = 0;
let bestCpu = 0;
for (let rep = 0; rep < Number(values.reps); rep++) {
  const index = new KvIndex();
  index.applyBatch(batch, 0, timedFrom);
  gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  index.applyBatch(batch, timedFrom, timedTo);
  const wall = timedBlocks / ((performance.now() - t0) / 1000);
  const used = process.cpuUsage(cpu0);
  const cpu = timedBlocks / ((used.user + used.system) / 1e6);
  bestWall = Math.max(bestWall, wall);
  bestCpu = Math.max(bestCpu, cpu);
  process.stdout.write(
    `rep ${rep}: ${wall.toExponential(3)} blocks/s wall, ${cpu.toExponential(3)} by CPU time\n`,
  );
}
process.stdout.write(
  `best ${bestWall.toExponential(3)} wall, ${bestCpu.toExponential(3)} CPU (${timedBlocks} blocks, events ${timedFrom}..${timedTo} of ${batch.length})\n`,
);
