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

type StoredQuery = Omit<RecentQuery, 'token_ids'> & { token_ids: Uint32Array };

export class QueryStats {
  private samples: Array<{ at: number; ms: number }> = [];
  /** Prompts kept as typed arrays (one copy per query); turned into JSON arrays only when read. */
  private readonly recentQueries: StoredQuery[] = [];
  total = 0;

  record(ms: number, now = Date.now()): void {
    this.total++;
    this.samples.push({ at: now, ms });
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
  }

  /** Called on every query: a bounded typed copy of the prompt, nothing per token. */
  remember(q: Omit<RecentQuery, 'token_ids'> & { token_ids: ArrayLike<number> }): void {
    const n = Math.min(q.token_ids.length, RECENT_TOKENS);
    const ids =
      q.token_ids instanceof Uint32Array
        ? q.token_ids.slice(0, n)
        : Uint32Array.from({ length: n }, (_, i) => q.token_ids[i]!);
    this.recentQueries.unshift({ ...q, token_ids: ids });
    if (this.recentQueries.length > RECENT) this.recentQueries.pop();
  }

  recent(): RecentQuery[] {
    return this.recentQueries.map((q) => ({ ...q, token_ids: Array.from(q.token_ids) }));
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
