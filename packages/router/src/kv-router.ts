import { computeSequenceHashes, type WorkerKey } from '@kvindex/core';
import { ActiveSequences, workerKeyString } from './active-sequences.ts';
import type { RouterConfig } from './config.ts';
import { candidateCost } from './cost.ts';
import { isBusy } from './fcfs-queue.ts';
import { type RandomSource, type Scored, selectCandidate } from './select.ts';

/**
 * One routing domain (a model's routing group, one block size): scores candidates from the
 * index's overlaps and the in-flight load, picks one, and books the request on it until it is
 * freed. The index itself stays outside: callers pass the overlaps and tree sizes they looked up.
 */

export interface RoutingInput {
  requestId: string;
  /** Dynamo LocalBlockHash per full block of the prompt. */
  localHashes: BigUint64Array | readonly bigint[];
  /** Prompt length in tokens (≥ localHashes.length × block size; the partial last block counts). */
  requestTokens: number;
  /** The eligible (worker, dp_rank)s, already filtered by allowed_worker_ids. */
  candidates: readonly WorkerKey[];
  /** Device-tier overlap in blocks per `"worker:dp"`; absent means 0. */
  overlaps: ReadonlyMap<string, number>;
  /** Blocks held in the index per `"worker:dp"`; absent means 0. Breaks exact ties. */
  treeSizes?: ReadonlyMap<string, number>;
  expectedOutputTokens?: number;
}

export interface CandidateScore {
  worker: WorkerKey;
  overlapBlocks: number;
  prefillBlocks: number;
  decodeBlocks: number;
  logit: number;
}

export interface RoutingDecision {
  worker: WorkerKey;
  overlapBlocks: number;
  logit: number;
  scores: CandidateScore[];
  sequenceHashes: bigint[];
}

export interface KvRouterOptions {
  blockSize: number;
  config: RouterConfig;
  now?: () => number;
  random?: RandomSource;
}

export class DuplicateRequestError extends Error {}

export class KvRouter {
  readonly blockSize: number;
  readonly config: RouterConfig;
  readonly sequences: ActiveSequences;
  private readonly random: RandomSource;

  constructor(options: KvRouterOptions) {
    this.blockSize = options.blockSize;
    this.config = options.config;
    this.random = options.random ?? Math.random;
    this.sequences = new ActiveSequences({
      ...(options.now ? { now: options.now } : {}),
      expiryMs: options.config.requestExpirySecs * 1000,
    });
  }

  /** Scores every candidate and picks one; changes nothing. */
  decide(input: RoutingInput): RoutingDecision {
    if (input.candidates.length === 0) throw new RangeError('no candidate workers');
    const seq = Array.from(computeSequenceHashes(input.localHashes));
    const scores: CandidateScore[] = [];
    const scored: Scored<CandidateScore>[] = [];
    for (const worker of input.candidates) {
      const key = workerKeyString(worker);
      const overlapBlocks = Math.min(input.overlaps.get(key) ?? 0, seq.length);
      const tracked = this.config.trackActiveBlocks;
      const load = tracked ? this.sequences.load(worker) : undefined;
      const terms = candidateCost({
        overlapBlocks,
        requestTokens: input.requestTokens,
        blockSize: this.blockSize,
        overlapScoreWeight: this.config.overlapScoreWeight,
        load: {
          activePrefillTokens: load?.activePrefillTokens ?? 0,
          activeBlocks: load?.activeBlocks ?? 0,
          newBlocks: tracked ? this.sequences.newBlocks(worker, seq) : 0,
        },
      });
      const score = { worker, overlapBlocks, ...terms };
      scores.push(score);
      scored.push({ key: score, logit: terms.logit, treeSize: input.treeSizes?.get(key) ?? 0 });
    }
    const chosen = selectCandidate(scored, this.config.temperature, this.random).key;
    return {
      worker: chosen.worker,
      overlapBlocks: chosen.overlapBlocks,
      logit: chosen.logit,
      scores,
      sequenceHashes: seq,
    };
  }

  /** Books a decided request on its worker until free (or expiry). */
  commit(input: RoutingInput, decision: RoutingDecision): void {
    if (!this.config.trackActiveBlocks) return;
    const uncached = Math.max(0, input.requestTokens - decision.overlapBlocks * this.blockSize);
    const added = this.sequences.add(
      input.requestId,
      decision.worker,
      decision.sequenceHashes,
      uncached,
      input.expectedOutputTokens,
    );
    if (!added) throw new DuplicateRequestError(`request ${input.requestId} is already active`);
  }

  route(input: RoutingInput): RoutingDecision {
    if (this.config.trackActiveBlocks && this.sequences.has(input.requestId))
      throw new DuplicateRequestError(`request ${input.requestId} is already active`);
    const decision = this.decide(input);
    this.commit(input, decision);
    return decision;
  }

  free(requestId: string): boolean {
    return this.sequences.free(requestId) !== undefined;
  }

  markPrefillCompleted(requestId: string): boolean {
    return this.sequences.markPrefillCompleted(requestId);
  }

  /** True when a queue threshold is set and every candidate is busy: the request should wait. */
  allBusy(candidates: readonly WorkerKey[]): boolean {
    const threshold = this.config.queueThreshold;
    if (threshold === undefined || candidates.length === 0) return false;
    for (const w of candidates) {
      if (!isBusy(this.sequences.load(w).activePrefillTokens, threshold, this.config.maxNumBatchedTokens))
        return false;
    }
    return true;
  }
}
