import { type ModelWorkerSet, parseJsonExact, stringifyModelWorkerSet } from '@kvindex/core';
import type { IndexerModelReport } from '../status/status.ts';

// HTTP to the data-plane replicas: the worker-set PUT and the per-model read for status.

export interface PutOutcome {
  restarted: bigint[];
}

export async function putWorkerSet(url: string, set: ModelWorkerSet, timeoutMs: number): Promise<PutOutcome> {
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: stringifyModelWorkerSet(set),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`PUT ${url}: ${res.status} ${text.slice(0, 500)}`);
  const body = parseJsonExact(text) as { restarted?: bigint[] };
  return { restarted: body.restarted ?? [] };
}

/** `GET /v1/models` of one replica, the rows of one model. */
export async function readModels(
  base: string,
  model: string,
  timeoutMs: number,
): Promise<IndexerModelReport[]> {
  const res = await fetch(`${base}/v1/models`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${base}/v1/models: ${res.status} ${text.slice(0, 200)}`);
  const body = parseJsonExact(text) as { models?: IndexerModelReport[] };
  return (body.models ?? [])
    .filter((m) => m.model_name === model)
    .map((m) => ({
      ...m,
      // Counters arrive as exact integers (bigint when large): status holds numbers.
      gaps: Number(m.gaps),
      replays: Number(m.replays),
      lag_seconds: m.lag_seconds === null ? null : Number(m.lag_seconds),
      blocks: numbers(m.blocks),
      workers: m.workers.map((w) => ({ ...w, ...(w.blocks ? { blocks: numbers(w.blocks) } : {}) })),
    }));
}

function numbers(m: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
}
