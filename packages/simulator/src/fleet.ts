import type { RouterEvent } from '@kvindex/core';
import { type EngineOutput, type RemovedEventMode, SimEngine, toRouterEvents } from './engine.ts';
import type { EngineHashMode } from './engine-hashes.ts';
import type { AssignmentPolicy, FleetLayout } from './policy.ts';
import { prepareRequest, type SimRequest } from './request.ts';
import type { TraceRequest } from './trace.ts';

export interface FleetOptions {
  workers: number;
  /** Data-parallel ranks per worker, each its own engine and pool (default 1). */
  dpRanks?: number;
  /** Pool size of every engine (worker dp rank), in blocks. */
  blocksPerEngine: number;
  blockSize: number;
  policy: AssignmentPolicy;
  engineHashes?: EngineHashMode;
  /** Seeds per-engine hashes; policies take their own seed. */
  seed?: bigint;
  /** Worker ids, default 0..workers-1. */
  workerIds?: readonly bigint[];
  removedEvents?: RemovedEventMode;
}

/** A (worker, dp rank) that holds ≥ 1 leading block of a request, and how many. */
export interface PrefixHit {
  workerId: bigint;
  dpRank: number;
  blocks: number;
}

export interface FleetStep {
  request: SimRequest;
  /** Index of the chosen engine in `fleet.engines`. */
  engineIndex: number;
  /** Every engine's cached prefix of the request before it ran (≥ 1 block only), when asked for. */
  prefixHits: PrefixHit[] | null;
  output: EngineOutput;
}

export interface HandleOptions {
  /** Also measure every engine's cached prefix before the request runs (costs a lookup per matched block per engine). */
  prefixHits?: boolean;
}

/** A fleet of simulated vLLM engines behind one assignment policy. */
export class SimFleet implements FleetLayout {
  readonly workerIds: readonly bigint[];
  readonly dpRanks: number;
  readonly blockSize: number;
  /** Engine i is worker workerIds[i mod workers] at dp rank ⌊i / workers⌋. */
  readonly engines: readonly SimEngine[];
  readonly policy: AssignmentPolicy;
  private handled = 0;

  constructor(options: FleetOptions) {
    const workerIds = options.workerIds ?? Array.from({ length: options.workers }, (_, i) => BigInt(i));
    if (
      !Number.isSafeInteger(options.workers) ||
      options.workers < 1 ||
      workerIds.length !== options.workers
    ) {
      throw new RangeError(`workers must be a positive integer matching workerIds, got ${options.workers}`);
    }
    if (new Set(workerIds).size !== workerIds.length) throw new RangeError('worker ids must be distinct');
    const dpRanks = options.dpRanks ?? 1;
    if (!Number.isSafeInteger(dpRanks) || dpRanks < 1)
      throw new RangeError(`dp ranks must be ≥ 1, got ${dpRanks}`);
    this.workerIds = workerIds;
    this.dpRanks = dpRanks;
    this.blockSize = options.blockSize;
    this.policy = options.policy;
    const engines: SimEngine[] = [];
    for (let dp = 0; dp < dpRanks; dp++) {
      for (const workerId of workerIds) {
        engines.push(
          new SimEngine({
            workerId,
            dpRank: dp,
            capacity: options.blocksPerEngine,
            blockSize: options.blockSize,
            engineHashes: options.engineHashes,
            seed: options.seed,
            removedEvents: options.removedEvents,
          }),
        );
      }
    }
    this.engines = engines;
  }

  engine(workerId: bigint, dpRank = 0): SimEngine {
    const w = this.workerIds.indexOf(workerId);
    const engine = w < 0 ? undefined : this.engines[dpRank * this.workerIds.length + w];
    if (!engine) throw new RangeError(`no engine for worker ${workerId} dp rank ${dpRank}`);
    return engine;
  }

  /** Every engine's cached prefix of the request now (≥ 1 block only), in engine order. */
  prefixHits(request: SimRequest): PrefixHit[] {
    const hits: PrefixHit[] = [];
    for (const engine of this.engines) {
      const blocks = engine.matchPrefix(request);
      if (blocks > 0) hits.push({ workerId: engine.workerId, dpRank: engine.dpRank, blocks });
    }
    return hits;
  }

  /** Routes the next request (a trace line, or one already prepared at this block size) and runs it. */
  handle(input: TraceRequest | SimRequest, options: HandleOptions = {}): FleetStep {
    const request = 'sequenceHashes' in input ? input : prepareRequest(input, this.blockSize, this.handled);
    this.handled++;
    const engineIndex = this.policy.choose(request, this);
    const engine = this.engines[engineIndex];
    if (!engine)
      throw new RangeError(
        `policy ${this.policy.name} chose engine ${engineIndex} of ${this.engines.length}`,
      );
    const prefixHits = options.prefixHits ? this.prefixHits(request) : null;
    return { request, engineIndex, prefixHits, output: engine.handle(request) };
  }
}

/** The step's RouterEvents in emission order. */
export function stepEvents(step: FleetStep): RouterEvent[] {
  return toRouterEvents(step.output);
}
