/**
 * Phase (A) of the index race repeated in one process, for comparing index changes: the
 * workload's events are packed once into flat u32 columns (so the JS heap the GC walks is the
 * index's own, not millions of parsed event objects), then applied `--reps` times into fresh
 * indexes through `applyColumnar`. Prints blocks/s per repetition and the best.
 *
 *   node --expose-gc --conditions=source bench/src/apply-repeat.ts --workload DIR [--reps 5]
 */
import { parseArgs } from 'node:util';
import { type ColumnarEvent, columnarEvent, KvIndex } from '@kvindex/indexer';
import { eventChunks } from './workload-reader.ts';

const { values } = parseArgs({
  options: { workload: { type: 'string' }, reps: { type: 'string', default: '5' } },
});
if (!values.workload) throw new Error('--workload DIR is required');

const KINDS = ['stored', 'removed', 'cleared'] as const;
// Per event: kind, worker id (as f64: the workloads' ids are small), dp rank, parent flag and halves, count, offset.
const meta: number[] = [];
let words = new Uint32Array(1 << 24);
let used = 0;
let blocks = 0;
for await (const chunk of eventChunks(values.workload)) {
  for (const event of chunk) {
    const c = columnarEvent(event);
    const perBlock = c.kind === 'stored' ? 4 : 2;
    while (used + c.count * perBlock > words.length) {
      const grown = new Uint32Array(words.length * 2);
      grown.set(words);
      words = grown;
    }
    meta.push(
      KINDS.indexOf(c.kind),
      Number(c.workerId),
      c.dpRank,
      c.hasParent ? 1 : 0,
      c.parentLo,
      c.parentHi,
      c.count,
      used,
    );
    const columns = c.kind === 'stored' ? [c.tokensLo, c.tokensHi, c.hashLo, c.hashHi] : [c.hashLo, c.hashHi];
    for (const col of columns) {
      words.set(col.subarray(0, c.count), used);
      used += c.count;
    }
    blocks += c.count;
  }
}
const gc = (globalThis as { gc?: () => void }).gc;
const rates: number[] = [];
for (let rep = 0; rep < Number(values.reps); rep++) {
  gc?.();
  const index = new KvIndex();
  const t0 = performance.now();
  for (let m = 0; m < meta.length; m += 8) {
    const count = meta[m + 6]!;
    const at = meta[m + 7]!;
    const stored = meta[m] === 0;
    const event: ColumnarEvent = {
      workerId: BigInt(meta[m + 1]!),
      dpRank: meta[m + 2]!,
      kind: KINDS[meta[m]!]!,
      hasParent: meta[m + 3] === 1,
      parentLo: meta[m + 4]!,
      parentHi: meta[m + 5]!,
      count,
      tokensLo: stored ? words.subarray(at, at + count) : words.subarray(0, 0),
      tokensHi: stored ? words.subarray(at + count, at + 2 * count) : words.subarray(0, 0),
      hashLo: words.subarray(stored ? at + 2 * count : at, stored ? at + 3 * count : at + count),
      hashHi: words.subarray(stored ? at + 3 * count : at + count, stored ? at + 4 * count : at + 2 * count),
    };
    index.applyColumnar(event);
  }
  const rate = blocks / ((performance.now() - t0) / 1000);
  rates.push(rate);
  process.stdout.write(`rep ${rep}: ${rate.toExponential(3)} blocks/s\n`);
}
process.stdout.write(`best ${Math.max(...rates).toExponential(3)} blocks/s over ${blocks} blocks\n`);
