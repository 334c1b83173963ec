import { routerEventToValue, stringifyJsonExact, workerKeyString } from '@kvindex/core';
import { type RemovedEventMode, toRouterEvents } from './engine.ts';
import type { EngineHashMode } from './engine-hashes.ts';
import { SimFleet } from './fleet.ts';
import { type PolicyName, policyByName } from './policy.ts';
import type { TraceRequest } from './trace.ts';

/** Written to workload.json so readers can check what they replay. */
export const WORKLOAD_FORMAT = 'kvindex-workload/1';

export interface WorkloadParameters {
  /** Where the trace came from (a path or a name); recorded only. */
  trace: string;
  /** Requests replayed (the trace's first N); undefined = all. */
  requests?: number | undefined;
  workers: number;
  dpRanks: number;
  blocksPerWorker: number;
  blockSize: number;
  policy: PolicyName;
  engineHashes: EngineHashMode;
  removedEvents: RemovedEventMode;
  seed: bigint;
}

/** Receives the two line streams of a workload directory, one JSON line per call, without newline. */
export interface WorkloadSink {
  event(line: string): void;
  request(line: string): void;
}

export interface WorkloadCounts {
  requests: number;
  events: number;
  stored_events: number;
  removed_events: number;
  /** Full blocks over all requests (each capped at the pool size). */
  request_blocks: number;
  /** Blocks the chosen engine already held. */
  hit_blocks: number;
  stored_blocks: number;
  removed_blocks: number;
  /** Blocks cached over the whole fleet after the last request. */
  cached_blocks_at_end: number;
}

export interface WorkloadSummary {
  format: string;
  parameters: Record<string, unknown>;
  counts: WorkloadCounts;
}

/**
 * Replays trace requests through a simulated fleet and writes the workload lines:
 * events: `{"req": i, "event": RouterEvent}`; requests: `{"req": i, "timestamp", "worker_id", "dp_rank",
 * "expected_hits": {"<worker>:<dp>": blocks}, "events": [start, end), "local_hashes": [...]}`,
 * where expected_hits is every engine's cached prefix before the request's events and
 * [start, end) are the 0-based lines of events.jsonl the request produced. One request is in
 * memory at a time.
 */
export function generateWorkload(
  trace: Iterable<TraceRequest>,
  params: WorkloadParameters,
  sink: WorkloadSink,
): WorkloadSummary {
  const fleet = new SimFleet({
    workers: params.workers,
    dpRanks: params.dpRanks,
    blocksPerEngine: params.blocksPerWorker,
    blockSize: params.blockSize,
    policy: policyByName(params.policy, params.seed),
    engineHashes: params.engineHashes,
    removedEvents: params.removedEvents,
    seed: params.seed,
  });
  const counts: WorkloadCounts = {
    requests: 0,
    events: 0,
    stored_events: 0,
    removed_events: 0,
    request_blocks: 0,
    hit_blocks: 0,
    stored_blocks: 0,
    removed_blocks: 0,
    cached_blocks_at_end: 0,
  };
  const limit = params.requests ?? Number.POSITIVE_INFINITY;
  for (const traceRequest of trace) {
    if (counts.requests >= limit) break;
    const req = counts.requests;
    const step = fleet.handle(traceRequest, { prefixHits: true });
    const start = counts.events;
    for (const event of toRouterEvents(step.output)) {
      sink.event(stringifyJsonExact({ req, event: routerEventToValue(event) }));
      counts.events++;
    }
    const expectedHits: Record<string, number> = {};
    for (const hit of step.prefixHits ?? []) {
      expectedHits[workerKeyString({ worker_id: hit.workerId, dp_rank: hit.dpRank })] = hit.blocks;
    }
    const out = step.output;
    sink.request(
      stringifyJsonExact({
        req,
        timestamp: traceRequest.timestamp,
        worker_id: out.workerId,
        dp_rank: out.dpRank,
        expected_hits: expectedHits,
        events: [start, counts.events],
        local_hashes: step.request.localHashes,
      }),
    );
    counts.requests++;
    counts.request_blocks += out.blockCount;
    counts.hit_blocks += out.hitBlocks;
    counts.removed_events += out.removed.length;
    for (const r of out.removed) counts.removed_blocks += r.blockHashes.length;
    if (out.stored) {
      counts.stored_events++;
      counts.stored_blocks += out.stored.blockHashes.length;
    }
  }
  for (const engine of fleet.engines) counts.cached_blocks_at_end += engine.cachedBlocks;
  return {
    format: WORKLOAD_FORMAT,
    parameters: {
      trace: params.trace,
      requests: counts.requests,
      workers: params.workers,
      dp_ranks: params.dpRanks,
      blocks_per_worker: params.blocksPerWorker,
      block_size: params.blockSize,
      policy: params.policy,
      engine_hashes: params.engineHashes,
      removed_events: params.removedEvents,
      seed: params.seed,
      worker_ids: fleet.workerIds,
    },
    counts,
  };
}
