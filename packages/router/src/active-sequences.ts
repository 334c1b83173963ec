import type { WorkerKey } from '@kvindex/core';

/**
 * In-flight requests per (worker, dp_rank), as Dynamo's ActiveSequences tracks them: the distinct
 * blocks (sequence hashes) their prompts occupy, shared blocks counted once, and the uncached
 * prompt tokens still being prefilled. A request leaves prefill on mark_prefill_completed and the
 * worker on free; one never freed is expired as stale (default after 300 s, checked every 30 s,
 * both on a clock the caller supplies).
 */

export interface ActiveRequest {
  readonly requestId: string;
  readonly worker: WorkerKey;
  readonly sequenceHashes: readonly bigint[];
  /** Uncached prompt tokens while in prefill; 0 once prefill completed. */
  prefillTokens: number;
  readonly expectedOutputTokens: number | undefined;
  readonly startedAt: number;
}

interface WorkerState {
  readonly worker: WorkerKey;
  /** Sequence hash → number of in-flight requests holding it. */
  readonly blocks: Map<bigint, number>;
  prefillTokens: number;
  requests: number;
}

export interface WorkerLoad {
  activeBlocks: number;
  activePrefillTokens: number;
  activeRequests: number;
}

export interface ActiveSequencesOptions {
  /** Milliseconds; injectable so tests never sleep. */
  now?: () => number;
  expiryMs?: number;
  checkEveryMs?: number;
}

export const DEFAULT_REQUEST_EXPIRY_MS = 300_000;
export const DEFAULT_EXPIRY_CHECK_MS = 30_000;

export function workerKeyString(w: WorkerKey): string {
  return `${w.worker_id}:${w.dp_rank}`;
}

export class ActiveSequences {
  private readonly workers = new Map<string, WorkerState>();
  private readonly requests = new Map<string, ActiveRequest>();
  private readonly now: () => number;
  private readonly expiryMs: number;
  private readonly checkEveryMs: number;
  private lastCheck: number;
  expiredTotal = 0;

  constructor(options: ActiveSequencesOptions = {}) {
    this.now = options.now ?? Date.now;
    this.expiryMs = options.expiryMs ?? DEFAULT_REQUEST_EXPIRY_MS;
    this.checkEveryMs = options.checkEveryMs ?? DEFAULT_EXPIRY_CHECK_MS;
    this.lastCheck = this.now();
  }

  get size(): number {
    return this.requests.size;
  }

  has(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  get(requestId: string): ActiveRequest | undefined {
    return this.requests.get(requestId);
  }

  load(worker: WorkerKey): WorkerLoad {
    const s = this.workers.get(workerKeyString(worker));
    return s
      ? { activeBlocks: s.blocks.size, activePrefillTokens: s.prefillTokens, activeRequests: s.requests }
      : { activeBlocks: 0, activePrefillTokens: 0, activeRequests: 0 };
  }

  /** How many of these blocks the worker does not already hold for an in-flight request. */
  newBlocks(worker: WorkerKey, sequenceHashes: readonly bigint[]): number {
    const s = this.workers.get(workerKeyString(worker));
    if (!s) return sequenceHashes.length;
    let n = 0;
    for (const h of sequenceHashes) if (!s.blocks.has(h)) n++;
    return n;
  }

  /** Adds a routed request; false (and no change) when the id is already in flight. */
  add(
    requestId: string,
    worker: WorkerKey,
    sequenceHashes: readonly bigint[],
    prefillTokens: number,
    expectedOutputTokens?: number,
  ): boolean {
    this.expireStale();
    if (this.requests.has(requestId)) return false;
    const key = workerKeyString(worker);
    let s = this.workers.get(key);
    if (!s) {
      s = { worker, blocks: new Map(), prefillTokens: 0, requests: 0 };
      this.workers.set(key, s);
    }
    for (const h of sequenceHashes) s.blocks.set(h, (s.blocks.get(h) ?? 0) + 1);
    s.prefillTokens += prefillTokens;
    s.requests++;
    this.requests.set(requestId, {
      requestId,
      worker,
      sequenceHashes,
      prefillTokens,
      expectedOutputTokens,
      startedAt: this.now(),
    });
    return true;
  }

  /** Ends a request's prefill; false when it is unknown or already past prefill. */
  markPrefillCompleted(requestId: string): boolean {
    const r = this.requests.get(requestId);
    if (!r || r.prefillTokens === 0) return false;
    const s = this.workers.get(workerKeyString(r.worker))!;
    s.prefillTokens -= r.prefillTokens;
    r.prefillTokens = 0;
    return true;
  }

  /** Removes a request (ending its prefill too); the freed request, or undefined when unknown. */
  free(requestId: string): ActiveRequest | undefined {
    const r = this.requests.get(requestId);
    if (!r) return undefined;
    this.markPrefillCompleted(requestId);
    this.requests.delete(requestId);
    const key = workerKeyString(r.worker);
    const s = this.workers.get(key)!;
    for (const h of r.sequenceHashes) {
      const n = s.blocks.get(h)!;
      if (n <= 1) s.blocks.delete(h);
      else s.blocks.set(h, n - 1);
    }
    s.requests--;
    if (s.requests === 0) this.workers.delete(key);
    return r;
  }

  /** Drops every request of a worker (it left the fleet). */
  removeWorker(workerId: bigint, dpRank?: number): void {
    for (const r of [...this.requests.values()]) {
      if (r.worker.worker_id === workerId && (dpRank === undefined || r.worker.dp_rank === dpRank))
        this.free(r.requestId);
    }
  }

  /** Frees requests older than the expiry, at most once per check interval; returns their ids. */
  expireStale(): string[] {
    const now = this.now();
    if (now < this.lastCheck + this.checkEveryMs) return [];
    this.lastCheck = now;
    const expired: string[] = [];
    for (const r of this.requests.values()) if (r.startedAt < now - this.expiryMs) expired.push(r.requestId);
    for (const id of expired) this.free(id);
    this.expiredTotal += expired.length;
    return expired;
  }
}
