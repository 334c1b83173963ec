import { type RouterEvent, type StoredBlock, U64_MAX } from '@kvindex/core';

/**
 * Seeded random streams of index operations for property and differential tests: several
 * workers and dp ranks, shared prefixes (a small token alphabet), stores under held, foreign,
 * bogus and self parents, duplicate re-stores, removals (leaves, suffixes, mid-chain, unknown
 * hashes), clears of one rank, worker and rank removal, and u64 extremes.
 *
 * Engine block hashes are a function of the chain, so one hash never names two different
 * chains of a rank: `shared` hashes are the same for every engine (a fixed PYTHONHASHSEED),
 * `per-engine` hashes are seeded per (worker, dp_rank) (vLLM's default).
 */
export type StreamOp =
  | { kind: 'event'; event: RouterEvent }
  | { kind: 'remove_worker'; workerId: bigint }
  | { kind: 'remove_worker_dp_rank'; workerId: bigint; dpRank: number }
  | { kind: 'clear_all_blocks'; workerId: bigint };

export interface StreamStep {
  op: StreamOp;
  /** Queries (tokens_hash sequences) to score after the op. */
  probes: bigint[][];
}

export interface StreamOptions {
  seed: number;
  steps: number;
  hashes: 'shared' | 'per-engine';
  /** `leaves`: only what an LRU evicts (a rank's blocks without held children); `any`: also mid-chain and suffixes. */
  removals: 'leaves' | 'any';
  /** Include clears, worker and rank removal (default true). */
  lifecycle?: boolean;
}

const WORKER_IDS = [1n, 2n, 3n, U64_MAX];
const DP_RANKS = [0, 1, 0xffff_ffff];
const TOKENS = [1n, 2n, 3n, 4n, 0n, U64_MAX, 1n << 63n];

interface Held {
  parent: bigint | null;
  tokens: bigint;
}

interface Rank {
  workerId: bigint;
  dpRank: number;
  held: Map<bigint, Held>;
}

export function generateStream(options: StreamOptions): StreamStep[] {
  const rng = new SeededRandom(options.seed);
  const lifecycle = options.lifecycle ?? true;
  const ranks: Rank[] = [];
  for (const workerId of WORKER_IDS.slice(0, 2 + rng.int(3))) {
    for (const dpRank of DP_RANKS.slice(0, 1 + rng.int(2))) ranks.push({ workerId, dpRank, held: new Map() });
  }
  // Ranks sharing a worker id: index them for worker-level operations.
  const tokenAlphabet = TOKENS.slice(0, 2 + rng.int(TOKENS.length - 1));
  const steps: StreamStep[] = [];
  let eventId = 0n;

  const blockHash = (rank: Rank, parent: bigint | null, tokens: bigint): bigint => {
    const seed = options.hashes === 'shared' ? 0x5eedn : mix64(rank.workerId, BigInt(rank.dpRank) + 7n);
    return mix64(parent ?? seed, tokens ^ seed);
  };
  const event = (rank: Rank, data: RouterEvent['event']['data']): StreamOp => ({
    kind: 'event',
    event: {
      worker_id: rank.workerId,
      storage_tier: 'device',
      event: { event_id: eventId++, data, dp_rank: rank.dpRank },
    },
  });

  for (let step = 0; step < options.steps; step++) {
    const rank = rng.pick(ranks);
    const roll = rng.next();
    let op: StreamOp;
    if (roll < 0.5 || (roll < 0.8 && rank.held.size === 0 && rng.next() < 0.8)) {
      op = event(rank, { stored: makeStore(rank) });
    } else if (roll < 0.8) {
      op = event(rank, { removed: { block_hashes: makeRemoval(rank) } });
    } else if (roll < 0.94 || !lifecycle) {
      op = event(rank, { stored: makeRestore(rank) });
    } else if (roll < 0.96) {
      rank.held.clear();
      op = event(rank, 'cleared');
    } else if (roll < 0.975) {
      for (const r of ranks) if (r.workerId === rank.workerId) r.held.clear();
      op = { kind: 'remove_worker', workerId: rank.workerId };
    } else if (roll < 0.99) {
      rank.held.clear();
      op = { kind: 'remove_worker_dp_rank', workerId: rank.workerId, dpRank: rank.dpRank };
    } else {
      for (const r of ranks) if (r.workerId === rank.workerId) r.held.clear();
      op = { kind: 'clear_all_blocks', workerId: rank.workerId };
    }
    steps.push({ op, probes: makeProbes() });
  }
  return steps;

  function makeStore(rank: Rank): { parent_hash: bigint | null; blocks: StoredBlock[] } {
    const held = [...rank.held.keys()];
    const choice = rng.next();
    let parent: bigint | null = null;
    if (choice < 0.55 && held.length > 0) parent = rng.pick(held);
    else if (choice < 0.62) {
      const other = rng.pick(ranks);
      const theirs = [...other.held.keys()];
      if (theirs.length > 0) parent = rng.pick(theirs);
    } else if (choice < 0.66) parent = rng.u64();
    const count = rng.next() < 0.05 ? 0 : 1 + rng.int(6);
    const blocks: StoredBlock[] = [];
    let previous = parent;
    for (let i = 0; i < count; i++) {
      const tokens = rng.pick(tokenAlphabet);
      const hash = blockHash(rank, previous, tokens);
      blocks.push({ block_hash: hash, tokens_hash: tokens });
      previous = hash;
    }
    if (parent !== null && blocks.length > 0 && rng.next() < 0.03) {
      blocks[rng.int(blocks.length)] = { block_hash: parent, tokens_hash: rng.pick(tokenAlphabet) };
      return { parent_hash: parent, blocks };
    }
    if (parent === null || rank.held.has(parent)) {
      let p = parent;
      for (const b of blocks) {
        rank.held.set(b.block_hash, { parent: p, tokens: b.tokens_hash });
        p = b.block_hash;
      }
    }
    return { parent_hash: parent, blocks };
  }

  /** A duplicate: an already held run of the rank's chain, stored again under its parent. */
  function makeRestore(rank: Rank): { parent_hash: bigint | null; blocks: StoredBlock[] } {
    const held = [...rank.held.keys()];
    if (held.length === 0) return makeStore(rank);
    let tail = rng.pick(held);
    const run: StoredBlock[] = [];
    let parent: bigint | null = tail;
    const length = 1 + rng.int(4);
    while (parent !== null && run.length < length) {
      const h = rank.held.get(parent);
      if (!h) break;
      run.unshift({ block_hash: parent, tokens_hash: h.tokens });
      tail = parent;
      parent = h.parent;
    }
    return { parent_hash: parent, blocks: run };
  }

  function makeRemoval(rank: Rank): bigint[] {
    const held = [...rank.held.keys()];
    const roll = rng.next();
    if (held.length === 0 || roll < 0.05) return [rng.u64()];
    const hasChild = new Set<bigint>();
    for (const h of rank.held.values()) if (h.parent !== null) hasChild.add(h.parent);
    const leaves = held.filter((h) => !hasChild.has(h));
    if (options.removals === 'leaves' || roll < 0.5) {
      // LRU order: a leaf, then its parent when that became a leaf, …
      const out: bigint[] = [];
      let hash: bigint | null = rng.pick(leaves);
      const count = 1 + rng.int(3);
      while (hash !== null && out.length < count) {
        const h: Held = rank.held.get(hash)!;
        out.push(hash);
        rank.held.delete(hash);
        const parent: bigint | null = h.parent;
        const stillParent = parent !== null && [...rank.held.values()].some((x) => x.parent === parent);
        hash = parent !== null && rank.held.has(parent) && !stillParent ? parent : null;
      }
      return out;
    }
    if (roll < 0.75) {
      // Mid-chain: one block with what the rank holds below it staying behind.
      const hash = rng.pick(held);
      rank.held.delete(hash);
      return rng.next() < 0.1 ? [hash, hash] : [hash];
    }
    // A suffix, root side first.
    let hash = rng.pick(leaves);
    const chain: bigint[] = [];
    for (
      let h: Held | undefined = rank.held.get(hash);
      h !== undefined && chain.length < 4;
      h = rank.held.get(hash)
    ) {
      chain.unshift(hash);
      if (h.parent === null) break;
      hash = h.parent;
    }
    for (const h of chain) rank.held.delete(h);
    return rng.next() < 0.5 ? chain : chain.slice(0, 1 + rng.int(chain.length));
  }

  function makeProbes(): bigint[][] {
    const probes: bigint[][] = [];
    for (const rank of ranks) {
      const held = [...rank.held.keys()];
      if (held.length === 0) continue;
      const path = tokenPath(rank, rng.pick(held));
      probes.push(path);
      if (rng.next() < 0.5) probes.push([...path, rng.pick(tokenAlphabet)]);
      if (path.length > 1 && rng.next() < 0.3) probes.push(path.slice(1));
    }
    const random: bigint[] = [];
    for (let i = 1 + rng.int(6); i > 0; i--) random.push(rng.pick(tokenAlphabet));
    probes.push(random);
    return probes;
  }

  function tokenPath(rank: Rank, hash: bigint): bigint[] {
    const path: bigint[] = [];
    let at: bigint | null = hash;
    while (at !== null && path.length < 64) {
      const h = rank.held.get(at);
      if (!h) break;
      path.unshift(h.tokens);
      at = h.parent;
    }
    return path;
  }
}

/** splitmix64-style mixing of two u64 values. */
export function mix64(a: bigint, b: bigint): bigint {
  let z = BigInt.asUintN(64, a * 0x9e3779b97f4a7c15n + b + 0x632be59bd9b4e019n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

/** mulberry32: small, seeded, reproducible. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  u64(): bigint {
    return (BigInt(Math.floor(this.next() * 2 ** 32)) << 32n) | BigInt(Math.floor(this.next() * 2 ** 32));
  }
}
