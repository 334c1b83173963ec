import type { TraceRequest } from '@kvindex/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceKind,
  type ServiceUnderTest,
  serviceKinds,
  startService,
  startServices,
  stopAll,
} from './harness/services.ts';
import {
  lastMismatch,
  pollStats,
  RIG_BLOCK_SIZE,
  rigProbes,
  SimEngineRig,
  timeToTruth,
} from './harness/sim-engine-rig.ts';
import { loadTraceSlice } from './harness/trace-prompts.ts';

/**
 * The same fault against every service at once, all registered to the same simulated engine: is
 * the index equal to the engine's true state afterwards, and how long until it is? The results
 * table is printed at the end (DIFFERENCES.md carries a copy).
 */
const kinds = serviceKinds();
let services: ServiceUnderTest[] = [];
let trace: TraceRequest[] = [];
const table: Array<{ fault: string; results: Map<ServiceKind, number | null>; waitedMs: number }> = [];
/** Long enough for any replay on this machine; a service not there by then stays wrong. */
const CONVERGE_MS = 30_000;
/** For outcomes documented as permanent (Dynamo ignores a seq reset, peers are a frozen snapshot). */
const STUCK_MS = 6_000;

beforeAll(async () => {
  services = await startServices(kinds);
  trace = loadTraceSlice(400);
});

afterAll(async () => {
  await stopAll(services);
  const cell = (v: number | null | undefined) =>
    v === undefined ? '–' : v === null ? 'no' : `yes, ${Math.round(v)} ms`;
  console.info(
    [
      `\n| fault | ${kinds.join(' | ')} |`,
      `|---|${kinds.map(() => '---|').join('')}`,
      ...table.map((r) => `| ${r.fault} | ${kinds.map((k) => cell(r.results.get(k))).join(' | ')} |`),
      `\n(equal to the engine's true state afterwards, and the time to the first poll that found it so; a poll queries 60 prompts of up to 8k tokens one by one, so times are upper bounds with a resolution of about ${Math.round(pollStats.maxPassMs)} ms. "no" = not within ${CONVERGE_MS / 1000} s, or ${STUCK_MS / 1000} s where that is the documented outcome)`,
    ].join('\n'),
  );
});

async function register(
  targets: readonly ServiceUnderTest[],
  rig: SimEngineRig,
  model: string,
  options: { replay?: boolean } = {},
): Promise<void> {
  for (const s of targets) {
    const reply = await s.http.register({
      instance_id: rig.instanceId,
      endpoint: rig.publisher.endpoint,
      ...(options.replay === false ? {} : { replay_endpoint: rig.publisher.replayEndpoint! }),
      model_name: model,
      block_size: RIG_BLOCK_SIZE,
    });
    if (reply.status !== 201) throw new Error(`${s.kind} register → ${reply.status} ${reply.text}`);
  }
}

async function unregister(
  targets: readonly ServiceUnderTest[],
  rig: SimEngineRig,
  model: string,
): Promise<void> {
  await Promise.all(
    targets.map((s) => s.http.unregister({ instance_id: rig.instanceId, model_name: model })),
  );
}

/** A PUB socket drops what it sends before subscribers have joined (ZMQ's slow joiner). */
const joined = () => new Promise((r) => setTimeout(r, 1500));

function record(fault: string, results: Map<ServiceKind, number | null>, waitedMs: number): void {
  table.push({ fault, results, waitedMs });
}

describe('faults, side by side', () => {
  it('publisher gap: every third batch of a burst lost on the wire (replay available)', async () => {
    const model = 'fault-gap';
    const rig = await SimEngineRig.start(501n, trace, 0);
    try {
      await register(services, rig, model);
      await joined();
      await rig.drive(20);
      await rig.drive(30, (i) => i % 3 === 1);
      await rig.drive(2);
      const results = await timeToTruth(services, model, rigProbes(rig, rig.handled.slice(-30)), CONVERGE_MS);
      record('publisher gap (every 3rd batch of 30 lost, replay on)', results, CONVERGE_MS);
      for (const s of services)
        expect(results.get(s.kind), `${s.kind}: ${lastMismatch.get(s.kind)}`).not.toBeNull();
    } finally {
      await unregister(services, rig, model);
      await rig.close();
    }
  });

  it('slow consumer: every indexer stopped (SIGSTOP) while 400 batches overflow its queue', async () => {
    const model = 'fault-slow';
    const rig = await SimEngineRig.start(502n, trace, 0, { sendHighWaterMark: 20 });
    try {
      await register(services, rig, model);
      await joined();
      await rig.drive(10);
      for (const s of services) process.kill(-s.process.pid, 'SIGSTOP');
      try {
        await rig.drive(400);
      } finally {
        for (const s of services) process.kill(-s.process.pid, 'SIGCONT');
      }
      // The batches after the overflow must not be dropped too (a lost last batch is never
      // noticed): let the resumed indexers drain their queues first.
      await new Promise((r) => setTimeout(r, 3000));
      await rig.drive(2);
      const results = await timeToTruth(services, model, rigProbes(rig, rig.handled.slice(-30)), CONVERGE_MS);
      record('slow consumer (stopped while 400 batches overflow HWM 20)', results, CONVERGE_MS);
      for (const s of services)
        expect(results.get(s.kind), `${s.kind}: ${lastMismatch.get(s.kind)}`).not.toBeNull();
    } finally {
      await unregister(services, rig, model);
      await rig.close();
    }
  });

  for (const downtimeMs of [0, 3000]) {
    const label =
      downtimeMs === 0 ? 'engine restart' : `publisher dies and returns after ${downtimeMs / 1000} s`;
    const name = `${label}: a new process on the same endpoints (empty cache, seq from 0)`;
    it(name, async () => {
      const model = `fault-restart-${downtimeMs}`;
      const id = 503n + BigInt(downtimeMs);
      const before = await SimEngineRig.start(id, trace, 0);
      const endpoint = before.publisher.endpoint;
      const replayEndpoint = before.publisher.replayEndpoint!;
      let after: SimEngineRig | undefined;
      try {
        await register(services, before, model);
        await joined();
        await before.drive(40);
        await before.close();
        await new Promise((r) => setTimeout(r, downtimeMs));
        after = await SimEngineRig.start(id, trace, 200, { endpoint, replayEndpoint });
        await joined();
        await after.drive(15);
        // The restarted engine holds only its new blocks: old prompts must now miss.
        const probes = [...rigProbes(after, before.handled.slice(-15)), ...rigProbes(after, after.handled)];
        const results = await timeToTruth(services, model, probes, STUCK_MS);
        record(`${label} (new process: empty cache, seq from 0)`, results, STUCK_MS);
        // Documented (§5.5): Dynamo drops the new stream's seq numbers until they pass the old maximum.
        for (const k of ['dynamo-t1', 'dynamo-t4'] as const) expect(results.get(k), k).toBeNull();
        // Difference engine-restart.
        if (kinds.includes('kvindex')) expect(results.get('kvindex')).not.toBeNull();
      } finally {
        await unregister(services, before, model);
        await after?.close();
      }
    });
  }

  it('indexer restart without peers (the operator registers the engine again)', async () => {
    const model = 'fault-indexer-restart';
    const rig = await SimEngineRig.start(601n, trace, 0);
    const restarted: ServiceUnderTest[] = [];
    try {
      await register(services, rig, model);
      await joined();
      await rig.drive(30);
      for (const kind of kinds) restarted.push(await startService(kind));
      await register(restarted, rig, model);
      await joined();
      await rig.drive(3);
      const results = await timeToTruth(
        restarted,
        model,
        rigProbes(rig, rig.handled.slice(-30)),
        CONVERGE_MS,
      );
      record('indexer restart, no peers, engine registered again', results, CONVERGE_MS);
      for (const s of restarted)
        expect(results.get(s.kind), `${s.kind}: ${lastMismatch.get(s.kind)}`).not.toBeNull();
    } finally {
      await unregister(services, rig, model);
      await stopAll(restarted);
      await rig.close();
    }
  });

  it('indexer restart with --peers (a surviving replica), engine not registered again', async () => {
    const model = 'fault-peers';
    const rig = await SimEngineRig.start(602n, trace, 0);
    const restarted: ServiceUnderTest[] = [];
    try {
      await register(services, rig, model);
      await joined();
      await rig.drive(30);
      for (const s of services) {
        restarted.push(await startService(s.kind, { args: ['--peers', `http://127.0.0.1:${s.port}`] }));
      }
      const recovered = await timeToTruth(
        restarted,
        model,
        rigProbes(rig, rig.handled.slice(-30)),
        CONVERGE_MS,
      );
      for (const s of restarted)
        expect(recovered.get(s.kind), `${s.kind} recovers the snapshot`).not.toBeNull();
      await rig.drive(10);
      const results = await timeToTruth(restarted, model, rigProbes(rig, rig.handled.slice(-30)), STUCK_MS);
      record('indexer restart with --peers, new traffic, no re-registration', results, STUCK_MS);
      // Documented (§4.3): recovery is a frozen snapshot; no listener is adopted.
      for (const k of ['dynamo-t1', 'dynamo-t4'] as const) expect(results.get(k), k).toBeNull();
    } finally {
      await unregister(services, rig, model);
      await stopAll(restarted);
      await rig.close();
    }
  });

  it('indexer restart with --peers, engine registered again', async () => {
    const model = 'fault-peers-reregister';
    const rig = await SimEngineRig.start(603n, trace, 0);
    const restarted: ServiceUnderTest[] = [];
    try {
      await register(services, rig, model);
      await joined();
      await rig.drive(30);
      for (const s of services) {
        restarted.push(await startService(s.kind, { args: ['--peers', `http://127.0.0.1:${s.port}`] }));
      }
      await timeToTruth(restarted, model, rigProbes(rig, rig.handled.slice(-30)), CONVERGE_MS);
      await register(restarted, rig, model);
      await joined();
      await rig.drive(10);
      const results = await timeToTruth(
        restarted,
        model,
        rigProbes(rig, rig.handled.slice(-30)),
        CONVERGE_MS,
      );
      record('indexer restart with --peers, engine registered again', results, CONVERGE_MS);
      for (const s of restarted)
        expect(results.get(s.kind), `${s.kind}: ${lastMismatch.get(s.kind)}`).not.toBeNull();
    } finally {
      await unregister(services, rig, model);
      await stopAll(restarted);
      await rig.close();
    }
  });
});
