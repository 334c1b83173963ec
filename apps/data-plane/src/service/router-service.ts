import { computeBlockHashes, type WorkerKey } from '@kvindex/core';
import { ApproximateKvIndex } from '@kvindex/indexer';
import {
  type CandidateScore,
  DuplicateRequestError,
  FcfsQueue,
  KvRouter,
  type RandomSource,
  type RouterConfig,
  workerKeyString,
} from '@kvindex/router';
import type { ListenerFactory } from './ports.ts';
import { type Partition, partitionKey, RegistryError, type WorkerRegistry } from './registry.ts';

/**
 * KV-aware routing over the data plane's partitions (Dynamo's find_best_worker / free /
 * mark_prefill_completed): per (model, routing_group) a KvRouter books in-flight requests; the
 * overlaps come from the partition's event-fed index or, in approximate mode (no KV events), from
 * an ApproximateKvIndex that learns each decision's chain for the chosen worker.
 */

export interface RouteRequest {
  modelName: string;
  routingGroup: string;
  requestId: string;
  tokenIds?: Uint32Array | undefined;
  /** Dynamo LocalBlockHashes (u64), when the caller hashed the prompt itself. */
  blockHashes?: BigUint64Array | undefined;
  loraName?: string | undefined;
  allowedWorkerIds?: readonly bigint[] | undefined;
  expectedOutputTokens?: number | undefined;
}

export interface RouteResult {
  worker_id: bigint;
  dp_rank: number;
  overlap_blocks: number;
  logits: Array<{ worker_id: bigint; dp_rank: number; logit: number; overlap_blocks: number }>;
}

/** Overlaps from an indexer elsewhere (`--use-remote-indexer`), in blocks per `"worker:dp"`. */
export interface RemoteOverlaps {
  overlaps(p: Partition, localHashes: BigUint64Array): Promise<Map<string, number>>;
}

export interface RouterServiceOptions {
  config: RouterConfig;
  /** Ask this instead of the local index (which then stays empty). */
  remote?: RemoteOverlaps | undefined;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
  random?: RandomSource;
}

interface PartitionRouter {
  readonly partition: Partition;
  readonly router: KvRouter;
  readonly approx: ApproximateKvIndex | undefined;
  readonly queue: FcfsQueue;
  /** Rejects of the requests parked in `queue`, for shutdown or a partition that went away. */
  readonly parked: Set<(err: Error) => void>;
}

export class RouterService {
  readonly config: RouterConfig;
  private readonly registry: WorkerRegistry;
  private readonly options: RouterServiceOptions;
  private readonly byPartition = new Map<string, PartitionRouter>();
  /** In-flight request id → partition key, so free needs only the id (as in Dynamo). */
  private readonly owners = new Map<string, string>();
  routed = 0;
  queued = 0;

  constructor(registry: WorkerRegistry, options: RouterServiceOptions) {
    this.registry = registry;
    this.options = options;
    this.config = options.config;
  }

  /** Routes a request, waiting in the fcfs queue while every candidate is busy. */
  route(req: RouteRequest): Promise<RouteResult> | RouteResult {
    const p = this.registry.partition(req.modelName, req.routingGroup);
    if (!p) {
      throw new RegistryError(404, `no indexer for model=${req.modelName} routing_group=${req.routingGroup}`);
    }
    const pr = this.routerFor(p);
    this.expire(pr);
    if (this.owners.has(req.requestId) || pr.router.sequences.has(req.requestId))
      throw new RegistryError(409, `request ${req.requestId} is already active`);
    const localHashes = this.localHashes(req, p.blockSize);
    const candidates = this.candidates(p, req.allowedWorkerIds);
    if (candidates.length === 0) {
      throw new RegistryError(
        503,
        req.allowedWorkerIds
          ? `no worker of model=${req.modelName} routing_group=${req.routingGroup} is in allowed_worker_ids`
          : `no workers for model=${req.modelName} routing_group=${req.routingGroup}`,
      );
    }
    if (this.options.remote) {
      // Remote failures come back as no overlaps (counted by the remote client), never as errors.
      return this.options.remote
        .overlaps(p, localHashes)
        .then((overlaps) => this.admit(pr, req, localHashes, candidates, overlaps));
    }
    return this.admit(pr, req, localHashes, candidates, undefined);
  }

  /** Decides now, or parks the request (fcfs) while every candidate is busy. */
  private admit(
    pr: PartitionRouter,
    req: RouteRequest,
    localHashes: BigUint64Array,
    candidates: WorkerKey[],
    remoteOverlaps: Map<string, number> | undefined,
  ): Promise<RouteResult> | RouteResult {
    const run = () => this.decide(pr, req, localHashes, candidates, remoteOverlaps);
    if (pr.queue.length === 0 && !pr.router.allBusy(candidates)) return run();
    this.queued++;
    return new Promise<RouteResult>((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      pr.parked.add(fail);
      pr.queue.park(() => {
        pr.parked.delete(fail);
        try {
          resolve(run());
        } catch (err) {
          reject(err);
        }
      });
      // The candidates may have freed up between the check and the park.
      this.drain(pr);
    });
  }

  /** False when the request is not in flight; always true without tracking (nothing to free). */
  free(requestId: string): boolean {
    if (!this.config.trackActiveBlocks) return true;
    const pr = this.ownerOf(requestId);
    this.owners.delete(requestId);
    if (!pr) return false;
    const freed = pr.router.free(requestId);
    this.drain(pr);
    return freed;
  }

  markPrefillCompleted(requestId: string): boolean {
    if (!this.config.trackActiveBlocks) return true;
    const pr = this.ownerOf(requestId);
    if (!pr) return false;
    const changed = pr.router.markPrefillCompleted(requestId);
    this.drain(pr);
    return changed;
  }

  activeRequests(): number {
    let n = 0;
    for (const pr of this.byPartition.values()) n += pr.router.sequences.size;
    return n;
  }

  expiredRequests(): number {
    let n = 0;
    for (const pr of this.byPartition.values()) n += pr.router.sequences.expiredTotal;
    return n;
  }

  close(): void {
    for (const pr of this.byPartition.values()) this.rejectParked(pr, 'router shutting down');
  }

  private rejectParked(pr: PartitionRouter, message: string): void {
    pr.queue.clear();
    for (const fail of pr.parked) fail(new RegistryError(503, message));
    pr.parked.clear();
  }

  private decide(
    pr: PartitionRouter,
    req: RouteRequest,
    localHashes: BigUint64Array,
    candidates: WorkerKey[],
    remoteOverlaps: Map<string, number> | undefined,
  ): RouteResult {
    const { overlaps, treeSizes } = remoteOverlaps
      ? { overlaps: remoteOverlaps, treeSizes: new Map<string, number>() }
      : this.lookup(pr, localHashes);
    const requestTokens = req.tokenIds ? req.tokenIds.length : localHashes.length * pr.partition.blockSize;
    const input = {
      requestId: req.requestId,
      localHashes,
      requestTokens,
      candidates,
      overlaps,
      treeSizes,
      ...(req.expectedOutputTokens !== undefined ? { expectedOutputTokens: req.expectedOutputTokens } : {}),
    };
    let decision: ReturnType<KvRouter['route']>;
    try {
      decision = pr.router.route(input);
    } catch (err) {
      if (err instanceof DuplicateRequestError) throw new RegistryError(409, err.message);
      throw err;
    }
    if (this.config.trackActiveBlocks)
      this.owners.set(req.requestId, partitionKey(pr.partition.modelName, pr.partition.routingGroup));
    pr.approx?.recordRouting(decision.worker.worker_id, decision.worker.dp_rank, Array.from(localHashes));
    this.routed++;
    return {
      worker_id: decision.worker.worker_id,
      dp_rank: decision.worker.dp_rank,
      overlap_blocks: decision.overlapBlocks,
      logits: decision.scores.map((s: CandidateScore) => ({
        worker_id: s.worker.worker_id,
        dp_rank: s.worker.dp_rank,
        logit: s.logit,
        overlap_blocks: s.overlapBlocks,
      })),
    };
  }

  private lookup(
    pr: PartitionRouter,
    localHashes: BigUint64Array,
  ): { overlaps: Map<string, number>; treeSizes: Map<string, number> } {
    const overlaps = new Map<string, number>();
    const treeSizes = new Map<string, number>();
    if (pr.approx) {
      const m = pr.approx.findMatches(Array.from(localHashes));
      for (let i = 0; i < m.count; i++) overlaps.set(`${m.workerIds[i]}:${m.dpRanks[i]}`, m.scores[i]!);
      for (const r of pr.approx.index.treeSizes()) treeSizes.set(`${r.worker_id}:${r.dp_rank}`, r.blocks);
    } else {
      if (localHashes.length > 0) {
        for (const m of pr.partition.index.findMatches(localHashes))
          if (m.device > 0) overlaps.set(`${m.workerId}:${m.dpRank}`, m.device);
      }
      for (const w of pr.partition.index.workerBlocks())
        treeSizes.set(`${w.workerId}:${w.dpRank}`, w.blocks.device);
    }
    return { overlaps, treeSizes };
  }

  private localHashes(req: RouteRequest, blockSize: number): BigUint64Array {
    if (req.blockHashes) return req.blockHashes;
    return computeBlockHashes(req.tokenIds ?? new Uint32Array(0), blockSize, { loraName: req.loraName });
  }

  /** Registered (worker, dp_rank)s, plus ranks known only from the index (NATS-fed partitions). */
  private candidates(p: Partition, allowed: readonly bigint[] | undefined): WorkerKey[] {
    const keys = new Map<string, WorkerKey>();
    const add = (k: WorkerKey) => {
      if (allowed && !allowed.includes(k.worker_id)) return;
      keys.set(workerKeyString(k), k);
    };
    for (const w of this.registry.listWorkers(p.modelName, p.routingGroup)) {
      for (const dp of Object.keys(w.listeners)) add({ worker_id: w.instance_id, dp_rank: Number(dp) });
    }
    if (p.pinned) for (const w of p.index.workerBlocks()) add({ worker_id: w.workerId, dp_rank: w.dpRank });
    return [...keys.values()].sort((a, b) =>
      a.worker_id === b.worker_id ? a.dp_rank - b.dp_rank : a.worker_id < b.worker_id ? -1 : 1,
    );
  }

  private routerFor(p: Partition): PartitionRouter {
    const key = partitionKey(p.modelName, p.routingGroup);
    const existing = this.byPartition.get(key);
    // A partition removed and registered again is a new object (maybe a new block size): start afresh.
    if (existing && existing.partition === p) return existing;
    if (existing) this.forget(key, existing);
    const now = this.options.now ?? Date.now;
    const pr: PartitionRouter = {
      partition: p,
      router: new KvRouter({
        blockSize: p.blockSize,
        config: this.config,
        now,
        ...(this.options.random ? { random: this.options.random } : {}),
      }),
      approx: this.config.useKvEvents
        ? undefined
        : new ApproximateKvIndex({
            ttlMs: this.config.ttlSecs * 1000,
            maxTreeSize: this.config.maxTreeSize,
            pruneTargetRatio: this.config.pruneTargetRatio,
            now,
          }),
      queue: new FcfsQueue(),
      parked: new Set(),
    };
    this.byPartition.set(key, pr);
    return pr;
  }

  private forget(key: string, pr: PartitionRouter): void {
    for (const [id, owner] of this.owners) if (owner === key) this.owners.delete(id);
    this.rejectParked(
      pr,
      `model=${pr.partition.modelName} routing_group=${pr.partition.routingGroup} was removed`,
    );
  }

  private ownerOf(requestId: string): PartitionRouter | undefined {
    const key = this.owners.get(requestId);
    return key === undefined ? undefined : this.byPartition.get(key);
  }

  private expire(pr: PartitionRouter): void {
    for (const id of pr.router.sequences.expireStale()) this.owners.delete(id);
  }

  private drain(pr: PartitionRouter): void {
    const candidates = () => this.candidates(pr.partition, undefined);
    pr.queue.drain(() => !pr.router.allBusy(candidates()));
  }
}

/**
 * Approximate mode's listeners: registered workers are routing candidates, but their event
 * endpoints are not subscribed (Dynamo's `--no-kv-events`); each reports itself caught up.
 */
export const noEventsListenerFactory: ListenerFactory = () => ({
  status: () => 'active',
  lastError: () => undefined,
  stats: () => ({
    batches: 0,
    events: 0,
    gaps: 0,
    replays: 0,
    decodeErrors: 0,
    lagSeconds: undefined,
    caughtUp: true,
    dropped: {},
  }),
  close: async () => {},
});
