/**
 * Recent query latencies and prompts, for the dashboard: rate and percentiles over a sliding
 * window, and the last few prompts so an operator can see how a real prefix spreads over workers.
 */

export interface RecentQuery {
  at: number;
  model_name: string;
  routing_group: string;
  tokens: number;
  /** First tokens of the prompt (capped), so the dashboard can re-run it. */
  token_ids: number[];
  best_worker: string | undefined;
  best_tokens: number;
}

const WINDOW_MS = 10_000;
const MAX_SAMPLES = 20_000;
const RECENT = 12;
const RECENT_TOKENS = 4096;

/** One of RECENT preallocated prompt slots, overwritten in turn: nothing allocated per query. */
interface Slot {
  query: Omit<RecentQuery, 'token_ids'> | undefined;
  tokens: Uint32Array;
  length: number;
}

export class QueryStats {
  private samples: Array<{ at: number; ms: number }> = [];
  /** The last RECENT prompts, newest at `newest`; turned into JSON arrays only when read. */
  private readonly slots: Slot[] = Array.from({ length: RECENT }, () => ({
    query: undefined,
    tokens: new Uint32Array(RECENT_TOKENS),
    length: 0,
  }));
  private newest = -1;
  total = 0;

  record(ms: number, now = Date.now()): void {
    this.total++;
    this.samples.push({ at: now, ms });
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
  }

  /** Called on every query: copies at most RECENT_TOKENS tokens into the oldest slot. */
  remember(q: Omit<RecentQuery, 'token_ids'> & { token_ids: ArrayLike<number> }): void {
    this.newest = (this.newest + 1) % RECENT;
    const slot = this.slots[this.newest]!;
    const { token_ids: tokens, ...query } = q;
    const n = Math.min(tokens.length, RECENT_TOKENS);
    if (tokens instanceof Uint32Array) slot.tokens.set(tokens.subarray(0, n));
    else for (let i = 0; i < n; i++) slot.tokens[i] = tokens[i]!;
    slot.query = query;
    slot.length = n;
  }

  /** Newest first. */
  recent(): RecentQuery[] {
    const out: RecentQuery[] = [];
    for (let k = 0; k < RECENT; k++) {
      const slot = this.slots[(this.newest - k + RECENT) % RECENT]!;
      if (!slot.query) break;
      out.push({ ...slot.query, token_ids: Array.from(slot.tokens.subarray(0, slot.length)) });
    }
    return out;
  }

  summary(now = Date.now()): { per_second: number; p50_ms: number; p99_ms: number; total: number } {
    const cutoff = now - WINDOW_MS;
    let first = 0;
    while (first < this.samples.length && this.samples[first]!.at < cutoff) first++;
    if (first > 0) this.samples = this.samples.slice(first);
    const ms = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    const pct = (p: number) =>
      ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
    return {
      per_second: ms.length / (WINDOW_MS / 1000),
      p50_ms: pct(0.5),
      p99_ms: pct(0.99),
      total: this.total,
    };
  }
}
