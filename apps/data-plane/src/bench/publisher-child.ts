import { readFileSync } from 'node:fs';
import { parseTrace, roundRobin, SimFleet } from '@kvindex/simulator';
import { engineOutputToWireEvents, VllmZmqPublisher } from '@kvindex/transport';
import { defaultTracePath } from '../demo/demo-fleet.ts';

/**
 * Child process (forked with IPC): binds `publishers` vLLM-wire publishers fed by a simulated fleet
 * replaying the bundled trace round-robin. On "prefill" it publishes that many blocks at
 * PREFILL_RATE and reports back; on "go" it publishes at `blocksPerSecond` (stored + removed
 * blocks) until told to stop, then reports the blocks published since "go" and over how many seconds.
 */
const publishers = Number(process.argv[2]);
const blocksPerSecond = Number(process.argv[3]);
const blockSize = Number(process.argv[4] ?? 16);
const send = (m: unknown) => process.send!(m);
const trace = parseTrace(readFileSync(defaultTracePath(), 'utf8'));
const workerIds = Array.from({ length: publishers }, (_, i) => BigInt(i + 1));
const fleet = new SimFleet({
  workers: publishers,
  workerIds,
  blocksPerEngine: 20_000,
  blockSize,
  policy: roundRobin(),
});
const pubs = await Promise.all(
  workerIds.map(() => VllmZmqPublisher.bind({ sendHighWaterMark: 0, ringSize: 1024, eventShape: 'map' })),
);
send({ endpoints: pubs.map((p) => ({ endpoint: p.endpoint, replay: p.replayEndpoint })) });

/** Fast enough to fill the fleet's pools in a second or two, slow enough not to need a replay. */
const PREFILL_RATE = 200_000;
let running = false;
let published = 0;
let next = 0;
let rate = blocksPerSecond;
let prefillUntil = Number.POSITIVE_INFINITY;
let goAt = performance.now();
process.on('message', (m: { cmd: string; blocks?: number }) => {
  if (m.cmd === 'prefill') {
    rate = PREFILL_RATE;
    prefillUntil = m.blocks ?? 0;
    start();
  } else if (m.cmd === 'go') {
    rate = blocksPerSecond;
    published = 0;
    goAt = performance.now();
    start();
  } else if (m.cmd === 'stop') {
    running = false;
    send({ published, seconds: (performance.now() - goAt) / 1000 });
    void Promise.all(pubs.map((p) => p.close())).then(() => process.exit(0));
  }
});

function start(): void {
  credit = 0;
  last = performance.now();
  if (running) return;
  running = true;
  tick();
}

const TICK_MS = 10;
let credit = 0;
let last = performance.now();
function tick(): void {
  if (!running) return;
  if (published >= prefillUntil) {
    running = false;
    prefillUntil = Number.POSITIVE_INFINITY;
    send({ prefilled: published });
    return;
  }
  const now = performance.now();
  credit += ((now - last) * rate) / 1000;
  last = now;
  const sends: Promise<bigint>[] = [];
  while (credit > 0) {
    const step = fleet.handle(trace[next++ % trace.length]!);
    const events = engineOutputToWireEvents({ removed: step.output.removed, stored: step.output.stored });
    let blocks = 0;
    for (const e of events)
      if (e.type === 'BlockStored' || e.type === 'BlockRemoved') blocks += e.block_hashes.length;
    credit -= Math.max(1, blocks);
    published += blocks;
    if (events.length > 0) sends.push(pubs[step.engineIndex % pubs.length]!.publish(events));
  }
  void Promise.all(sends).then(() => setTimeout(tick, TICK_MS));
}
