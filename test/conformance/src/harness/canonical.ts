import { type JsonValue, stringifyJsonExact } from '@kvindex/core';

/** JSON with every object's keys sorted: equal answers compare equal whatever order a service writes keys in. */
export function sortKeys(value: JsonValue | undefined): JsonValue | undefined {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v) as JsonValue);
  if (value !== null && typeof value === 'object' && typeof value !== 'bigint') {
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]) as JsonValue;
    return out;
  }
  return value;
}

export function canonical(value: JsonValue | undefined): string {
  return value === undefined ? '<no json>' : stringifyJsonExact(sortKeys(value));
}

/** `/workers` lists instances in hash-map order; compare them as a set. */
export function canonicalWorkers(value: JsonValue | undefined): string {
  if (!Array.isArray(value)) return canonical(value);
  return canonical(
    value.map((v) => sortKeys(v) as JsonValue).sort((a, b) => cmp(canonical(a), canonical(b))),
  );
}

/**
 * A `/dump` as comparable content: per partition its block size and, per (worker, dp_rank, tier),
 * the set of (parent, block_hash, tokens_hash) links its stored events describe. Event ids, event
 * order and how runs are cut into events differ between equal trees (Dynamo walks an FxHash map).
 */
export function dumpContent(dump: JsonValue | undefined): string {
  if (dump === null || typeof dump !== 'object' || Array.isArray(dump) || typeof dump === 'bigint') {
    return canonical(dump);
  }
  const partitions: Record<string, JsonValue> = {};
  for (const [partition, body] of Object.entries(dump)) {
    const b = body as { block_size: JsonValue; events: JsonValue[] };
    const links = new Map<string, Set<string>>();
    for (const e of b.events) {
      const ev = e as Record<string, JsonValue>;
      const inner = ev.event as Record<string, JsonValue>;
      const key = `${ev.worker_id}/${inner.dp_rank ?? 0}/${ev.storage_tier ?? 'device'}`;
      const data = inner.data as Record<string, JsonValue>;
      const stored = data?.stored as Record<string, JsonValue> | undefined;
      if (!stored) continue;
      let parent = String(stored.parent_hash);
      const set = links.get(key) ?? new Set<string>();
      links.set(key, set);
      for (const block of stored.blocks as Record<string, JsonValue>[]) {
        set.add(`${parent}>${block.block_hash}:${block.tokens_hash}`);
        parent = String(block.block_hash);
      }
    }
    const byWorker: Record<string, JsonValue> = {};
    for (const key of [...links.keys()].sort()) byWorker[key] = [...links.get(key)!].sort();
    partitions[partition] = { block_size: b.block_size, links: byWorker };
  }
  return canonical(partitions);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
