import { type WorkerKey, xxh3_64 } from '@kvindex/core';
import type { SimRequest } from './request.ts';
import { SeededRandom } from './rng.ts';

/** The fleet's engines as a policy sees them: engine i is (workerIds[w], dp) with i = dp·workers + w. */
export interface FleetLayout {
  readonly workerIds: readonly bigint[];
  readonly dpRanks: number;
}

/** Picks the engine (index into the fleet's engines) a request goes to. */
export interface AssignmentPolicy {
  readonly name: string;
  choose(request: SimRequest, layout: FleetLayout): number;
}

export const POLICY_NAMES = ['round-robin', 'session', 'random'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

function engineCount(layout: FleetLayout): number {
  return layout.workerIds.length * layout.dpRanks;
}

/** Engines in turn, all workers' rank 0 first, then rank 1, …: consecutive requests land on different workers. */
export function roundRobin(): AssignmentPolicy {
  let next = 0;
  return {
    name: 'round-robin',
    choose(_request, layout) {
      const engine = next % engineCount(layout);
      next = engine + 1;
      return engine;
    },
  };
}

export interface SessionAffinityOptions {
  /** How many leading trace hash ids identify a session (Mooncake's conversation trace opens every request with id 0). */
  prefixIds?: number;
  seed?: bigint;
}

/** Requests whose first hash ids agree go to the same engine: a sticky-session router. */
export function sessionAffinity(options: SessionAffinityOptions = {}): AssignmentPolicy {
  const prefixIds = options.prefixIds ?? 2;
  if (!Number.isSafeInteger(prefixIds) || prefixIds < 1) {
    throw new RangeError(`session prefix must be a positive integer, got ${prefixIds}`);
  }
  const seed = BigInt.asUintN(64, options.seed ?? 0n);
  return {
    name: 'session',
    choose(request, layout) {
      const ids = request.trace.hashIds;
      const key = new BigUint64Array(Math.min(prefixIds, ids.length));
      for (let i = 0; i < key.length; i++) key[i] = BigInt(ids[i]!);
      const hash = xxh3_64(new Uint8Array(key.buffer), seed);
      return Number(hash % BigInt(engineCount(layout)));
    },
  };
}

/** A uniformly random engine from a seeded generator. */
export function randomAssignment(seed: bigint): AssignmentPolicy {
  const rng = new SeededRandom(seed);
  return { name: 'random', choose: (_request, layout) => rng.nextInt(engineCount(layout)) };
}

/**
 * The caller's router decides, typically kvindex's own best match over the events emitted so far;
 * the simulator stays independent of the indexer. A bare worker id spreads over its dp ranks in turn.
 */
export type BestMatchFn = (localHashes: BigUint64Array, request: SimRequest) => bigint | WorkerKey;

export function bestMatch(pick: BestMatchFn): AssignmentPolicy {
  const nextRank = new Map<bigint, number>();
  return {
    name: 'best-match',
    choose(request, layout) {
      const choice = pick(request.localHashes, request);
      const workerId = typeof choice === 'bigint' ? choice : choice.worker_id;
      const w = layout.workerIds.indexOf(workerId);
      if (w < 0) throw new RangeError(`best match chose worker ${workerId}, which is not in the fleet`);
      let dp: number;
      if (typeof choice === 'bigint') {
        dp = nextRank.get(workerId) ?? 0;
        nextRank.set(workerId, (dp + 1) % layout.dpRanks);
      } else {
        dp = choice.dp_rank;
        if (!Number.isInteger(dp) || dp < 0 || dp >= layout.dpRanks) {
          throw new RangeError(
            `best match chose dp rank ${dp} of worker ${workerId}; the fleet has ${layout.dpRanks}`,
          );
        }
      }
      return dp * layout.workerIds.length + w;
    },
  };
}

export function policyByName(name: PolicyName, seed: bigint): AssignmentPolicy {
  switch (name) {
    case 'round-robin':
      return roundRobin();
    case 'session':
      return sessionAffinity({ seed });
    case 'random':
      return randomAssignment(seed);
  }
}
