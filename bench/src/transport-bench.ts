import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { unpackMsgpack } from '@kvindex/core';
import { newIngestStats, VllmBatchDecoder, ZmqEventListener } from '@kvindex/transport';
import { markdownTable } from './hash-timing.ts';
import {
  BENCH_BLOCK_SIZE,
  benchPayloads,
  REMOVED_BLOCKS,
  STORED_BLOCKS,
} from './transport-bench-payloads.ts';

/**
 * KV event ingestion throughput: vLLM batches decoded into RouterEvents (tokens_hash recomputed),
 * in process and from 1 and 8 ZMQ publishers on loopback (publishers in a child process, the
 * listeners in this one). Applying to an index is not included.
 */

const BLOCKS_PER_BATCH = STORED_BLOCKS + REMOVED_BLOCKS;
const EVENTS_PER_BATCH = 2;

function inProcess(shape: 'array' | 'map'): string[] {
  const payloads = benchPayloads(20_000, shape);
  const decoder = new VllmBatchDecoder({
    workerId: 1n,
    dpRank: 0,
    blockSize: BENCH_BLOCK_SIZE,
    stats: newIngestStats(),
  });
  let best = 0;
  let bestUnpack = 0;
  for (let r = 0; r < 5; r++) {
    let t0 = performance.now();
    for (const p of payloads) unpackMsgpack(p);
    bestUnpack = Math.max(bestUnpack, payloads.length / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    let seq = 0n;
    for (const p of payloads) decoder.decode(seq++, p);
    best = Math.max(best, payloads.length / ((performance.now() - t0) / 1000));
  }
  return [
    `in process, ${shape} events`,
    '–',
    fmt(best),
    fmt(best * EVENTS_PER_BATCH),
    fmt(best * BLOCKS_PER_BATCH),
    `msgpack only: ${fmt(bestUnpack)} batches/s`,
  ];
}

async function loopback(publishers: number, batchesEach: number, shape: 'array' | 'map'): Promise<string[]> {
  const worker = fork(
    fileURLToPath(new URL('./transport-bench-publisher.ts', import.meta.url)),
    [String(publishers), String(batchesEach), shape],
    { execArgv: ['--conditions=source'] },
  );
  const ready = await new Promise<{ endpoints: { endpoint: string; replay: string }[] }>((resolve) =>
    worker.once('message', (m) => resolve(m as { endpoints: { endpoint: string; replay: string }[] })),
  );
  let events = 0;
  let blocks = 0;
  let firstAt = 0;
  let lastAt = 0;
  const total = publishers * batchesEach;
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const listeners = ready.endpoints.map((ep, i) => {
    const l = new ZmqEventListener({
      workerId: BigInt(i + 1),
      endpoint: ep.endpoint,
      replayEndpoint: ep.replay,
      blockSize: BENCH_BLOCK_SIZE,
      receiveHighWaterMark: 0,
      onEvents: (evs) => {
        if (received === 0) firstAt = performance.now();
        received++;
        events += evs.length;
        for (const e of evs) {
          const d = e.event.data;
          if (typeof d === 'object')
            blocks += 'stored' in d ? d.stored.blocks.length : d.removed.block_hashes.length;
        }
        if (received === total) {
          lastAt = performance.now();
          done();
        }
      },
    });
    l.start();
    return l;
  });
  while (!listeners.every((l) => l.status().connected)) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 200)); // let subscriptions reach the PUBs
  worker.send('go');
  const timeout = setTimeout(() => done(), 120_000);
  await finished;
  clearTimeout(timeout);
  worker.send('close');
  const stats = listeners.map((l) => l.stats());
  await Promise.all(listeners.map((l) => l.stop()));
  await new Promise((r) => worker.once('exit', r));
  const lost = stats.reduce((n, s) => n + s.batches_lost + s.gaps, 0);
  const seconds = (lastAt - firstAt) / 1000;
  return [
    `${publishers} ZMQ publisher${publishers > 1 ? 's' : ''} → ${publishers} listener${publishers > 1 ? 's' : ''}, ${shape} events`,
    String(total),
    fmt(received / seconds),
    fmt(events / seconds),
    fmt(blocks / seconds),
    received === total ? `all received; gaps ${lost}` : `only ${received}/${total} received`,
  ];
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`;
}

const rows: string[][] = [];
rows.push(inProcess('array'));
rows.push(inProcess('map'));
rows.push(await loopback(1, 40_000, 'array'));
rows.push(await loopback(1, 40_000, 'map'));
rows.push(await loopback(8, 5_000, 'array'));
rows.push(await loopback(8, 5_000, 'map'));
console.log(
  `Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString().slice(0, 10)}`,
);
console.log(
  `Batch = BlockRemoved(${REMOVED_BLOCKS}) + BlockStored(${STORED_BLOCKS} blocks × ${BENCH_BLOCK_SIZE} tokens), u64 hashes.\n`,
);
console.log(markdownTable(['path', 'batches', 'batches/s', 'events/s', 'blocks/s', 'note'], rows));
process.exit(0);
