import { VllmZmqPublisher } from '@kvindex/transport';
import { benchPayloads } from './transport-bench-payloads.ts';

/**
 * Child process (forked with IPC): binds `publishers` vLLM-compatible publishers, reports their endpoints, and on
 * "go" sends `batches` pre-encoded batches on each, round-robin, as fast as the sockets take them.
 */
const [publishers, batches, shape] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  process.argv[4] as 'array' | 'map',
];
const send = (m: unknown) => process.send!(m);
const next = () => new Promise<unknown>((resolve) => process.once('message', resolve));
const payloads = benchPayloads(Math.min(batches, 4096), shape);
// High-water marks off: the benchmark measures decoding, not PUB drops (those are tested elsewhere).
const pubs = await Promise.all(
  Array.from({ length: publishers }, () => VllmZmqPublisher.bind({ sendHighWaterMark: 0, ringSize: 16 })),
);
send({ endpoints: pubs.map((p) => ({ endpoint: p.endpoint, replay: p.replayEndpoint })) });
await next();
const inFlight: Promise<bigint>[] = [];
for (let i = 0; i < batches; i++) {
  for (const p of pubs) inFlight.push(p.publishPayload(payloads[i % payloads.length]!));
  if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
}
await Promise.all(inFlight);
send({ sent: batches * publishers });
await next();
await Promise.all(pubs.map((p) => p.close()));
process.exit(0);
