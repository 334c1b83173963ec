import type { JsonValue } from '@kvindex/core';
import { prepareRequest, roundRobin, SimFleet, type SimRequest, type TraceRequest } from '@kvindex/simulator';
import { engineOutputToWireEvents, VllmZmqPublisher, type VllmZmqPublisherOptions } from '@kvindex/transport';
import { canonical } from './canonical.ts';
import type { ServiceKind, ServiceUnderTest } from './services.ts';

export const RIG_BLOCK_SIZE = 16;

/**
 * One simulated vLLM engine process (a one-worker SimFleet: its LRU pool is the truth) behind
 * our vLLM-wire publisher. A restart is a new rig on the same endpoints: empty pool, seq from 0.
 */
export class SimEngineRig {
  readonly instanceId: bigint;
  readonly publisher: VllmZmqPublisher;
  readonly handled: SimRequest[] = [];
  private readonly fleet: SimFleet;
  private readonly trace: readonly TraceRequest[];
  private next: number;

  private constructor(
    instanceId: bigint,
    publisher: VllmZmqPublisher,
    trace: readonly TraceRequest[],
    start: number,
  ) {
    this.instanceId = instanceId;
    this.publisher = publisher;
    this.trace = trace;
    this.next = start;
    this.fleet = new SimFleet({
      workers: 1,
      workerIds: [instanceId],
      blocksPerEngine: 300,
      blockSize: RIG_BLOCK_SIZE,
      policy: roundRobin(),
    });
  }

  /** `start`: where in the trace this engine's requests begin. */
  static async start(
    instanceId: bigint,
    trace: readonly TraceRequest[],
    start: number,
    options: VllmZmqPublisherOptions = {},
  ): Promise<SimEngineRig> {
    return new SimEngineRig(instanceId, await bindRetrying(options), trace, start);
  }

  /** Runs the next `count` trace requests; `lost(i)` says which of their batches never reach the wire. */
  async drive(count: number, lost: (i: number) => boolean = () => false): Promise<void> {
    for (let i = 0; i < count; i++) {
      const request = prepareRequest(this.trace[this.next % this.trace.length]!, RIG_BLOCK_SIZE, this.next);
      this.next++;
      const step = this.fleet.handle(request);
      this.handled.push(request);
      await this.publisher.publish(engineOutputToWireEvents(step.output), { dropOnWire: lost(i) });
    }
  }

  /** The engine's own scores for `tokens`' request, capped at `maxBlocks`. */
  truth(request: SimRequest, maxBlocks: number): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const hit of this.fleet.prefixHits(request)) {
      const blocks = Math.min(hit.blocks, maxBlocks);
      if (blocks === 0) continue;
      out[String(hit.workerId)] = { [String(hit.dpRank)]: blocks * RIG_BLOCK_SIZE };
    }
    return out;
  }

  close(): Promise<void> {
    return this.publisher.close();
  }
}

/** A restarted engine rebinds its predecessor's ports, which the OS may not have released yet. */
async function bindRetrying(options: VllmZmqPublisherOptions): Promise<VllmZmqPublisher> {
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      return await VllmZmqPublisher.bind(options);
    } catch (err) {
      if (!/in use/i.test((err as Error).message) || performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface RigProbe {
  label: string;
  tokens: number[];
  truth: string;
}

/** Full and half prompts of `requests`, scored by `rig`'s pool now. */
export function rigProbes(rig: SimEngineRig, requests: readonly SimRequest[]): RigProbe[] {
  return requests.flatMap((r) => {
    const half = Math.floor(r.localHashes.length / 2);
    return [
      {
        label: `#${r.index} full`,
        tokens: Array.from(r.tokens),
        truth: canonical(rig.truth(r, r.localHashes.length)),
      },
      {
        label: `#${r.index} half`,
        tokens: Array.from(r.tokens.subarray(0, half * RIG_BLOCK_SIZE)),
        truth: canonical(rig.truth(r, half)),
      },
    ];
  });
}

/** The last disagreement seen per service (for failure messages). */
export const lastMismatch = new Map<ServiceKind, string>();

async function matches(
  service: ServiceUnderTest,
  model: string,
  probes: readonly RigProbe[],
): Promise<boolean> {
  for (const p of probes) {
    const reply = await service.http.query({ token_ids: p.tokens, model_name: model });
    const got =
      reply.status === 200
        ? canonical((reply.json as Record<string, JsonValue>).scores)
        : `HTTP ${reply.status}`;
    if (got !== p.truth) {
      lastMismatch.set(service.kind, `${p.label}: ${got}, engine holds ${p.truth}`);
      return false;
    }
  }
  return true;
}

/**
 * How long each service takes (ms from now) until it answers every probe as the engine holds
 * it, or null if it does not within `timeoutMs`. Services are polled side by side.
 */
/** The longest single poll (all probes of one service) seen, i.e. the resolution of the times. */
export const pollStats = { maxPassMs: 0 };

export async function timeToTruth(
  services: readonly ServiceUnderTest[],
  model: string,
  probes: readonly RigProbe[],
  timeoutMs: number,
): Promise<Map<ServiceKind, number | null>> {
  const start = performance.now();
  const out = new Map<ServiceKind, number | null>();
  await Promise.all(
    services.map(async (s) => {
      for (;;) {
        const passStart = performance.now();
        const ok = await matches(s, model, probes);
        pollStats.maxPassMs = Math.max(pollStats.maxPassMs, performance.now() - passStart);
        if (ok) {
          out.set(s.kind, performance.now() - start);
          return;
        }
        if (performance.now() - start > timeoutMs) {
          out.set(s.kind, null);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }),
  );
  return out;
}
