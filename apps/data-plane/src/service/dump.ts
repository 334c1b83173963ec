import { type RouterEvent, routerEventFromValue, routerEventToValue, STORAGE_TIERS } from '@kvindex/core';
import type { WorkerRegistry } from './registry.ts';

/**
 * Dynamo's `/dump` document, `{"<model>:<group>": {"block_size": N, "events": [RouterEvent…]}}`,
 * and its inverse for peer recovery and snapshots.
 */

export interface DumpSection {
  block_size: number;
  events: Record<string, unknown>[];
}

export function dumpRegistry(registry: WorkerRegistry): Record<string, DumpSection> {
  const out: Record<string, DumpSection> = {};
  for (const p of registry.partitions()) {
    out[`${p.modelName}:${p.routingGroup}`] = {
      block_size: p.blockSize,
      events: p.index.dump().map(routerEventToValue),
    };
  }
  return out;
}

export interface LoadResult {
  partitions: number;
  events: number;
  failed: number;
  /** Sections or events that could not be read (kept short for logs). */
  problems: string[];
}

/**
 * Replays a dump into the registry's partitions, device tier first as Dynamo's recovery does.
 * A malformed section or event is skipped and reported, never fatal.
 */
export function loadDump(registry: WorkerRegistry, doc: unknown): LoadResult {
  const result: LoadResult = { partitions: 0, events: 0, failed: 0, problems: [] };
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    result.problems.push('dump is not an object');
    return result;
  }
  for (const [key, section] of Object.entries(doc as Record<string, unknown>)) {
    // Model names may contain ':' (e.g. "llama3:8b"); routing groups are the part after the last one.
    const colon = key.lastIndexOf(':');
    const s = section as { block_size?: unknown; events?: unknown } | null;
    const blockSize = s ? Number(s.block_size) : Number.NaN;
    if (colon <= 0 || !s || !Number.isInteger(blockSize) || blockSize < 0 || !Array.isArray(s.events)) {
      result.problems.push(`section ${JSON.stringify(key)} skipped: not {block_size, events}`);
      continue;
    }
    const p = registry.partitionForLoad(key.slice(0, colon), key.slice(colon + 1), blockSize);
    result.partitions++;
    const byTier = new Map<string, RouterEvent[]>(STORAGE_TIERS.map((t) => [t, []]));
    for (const [i, value] of s.events.entries()) {
      try {
        const event = routerEventFromValue(value);
        byTier.get(event.storage_tier)!.push(event);
      } catch (err) {
        result.failed++;
        if (result.problems.length < 10) result.problems.push(`${key} event ${i}: ${(err as Error).message}`);
      }
    }
    for (const events of byTier.values()) {
      for (const event of events) {
        result.events++;
        if (registry.applyEvent(p, event) !== 'ok') result.failed++;
      }
    }
  }
  return result;
}
