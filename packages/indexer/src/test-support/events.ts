import type { RouterEvent, StorageTier } from '@kvindex/core';

/** Terse event builders for unit tests; tokens_hash defaults to the block hash's last digits. */
export interface EventOptions {
  dp?: number;
  tier?: StorageTier;
}

let nextEventId = 0n;

function event(
  worker: number | bigint,
  data: RouterEvent['event']['data'],
  options: EventOptions,
): RouterEvent {
  return {
    worker_id: BigInt(worker),
    storage_tier: options.tier ?? 'device',
    event: { event_id: nextEventId++, data, dp_rank: options.dp ?? 0 },
  };
}

/** Blocks as [block_hash, tokens_hash] pairs. */
export function stored(
  worker: number | bigint,
  parent: number | bigint | null,
  blocks: [number | bigint, number | bigint][],
  options: EventOptions = {},
): RouterEvent {
  return event(
    worker,
    {
      stored: {
        parent_hash: parent === null ? null : BigInt(parent),
        blocks: blocks.map(([h, t]) => ({ block_hash: BigInt(h), tokens_hash: BigInt(t) })),
      },
    },
    options,
  );
}

export function removed(
  worker: number | bigint,
  hashes: (number | bigint)[],
  options: EventOptions = {},
): RouterEvent {
  return event(worker, { removed: { block_hashes: hashes.map(BigInt) } }, options);
}

export function cleared(worker: number | bigint, options: EventOptions = {}): RouterEvent {
  return event(worker, 'cleared', options);
}

/** A chain whose block hashes are `base + i` and tokens `i + 1`. */
export function chain(base: number, length: number, firstToken = 1): [number, number][] {
  return Array.from({ length }, (_, i) => [base + i, firstToken + i]);
}
