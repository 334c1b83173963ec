import type { StorageTier } from '@kvindex/core';

/**
 * vLLM's `medium` names (and Dynamo's aliases) to the storage tier. Matched case-insensitively:
 * Dynamo 1.6.1 matches case-sensitively and silently drops `cpu` or `gpu`.
 */
const TIER_BY_MEDIUM: ReadonlyMap<string, StorageTier> = new Map<string, StorageTier>([
  ['GPU', 'device'],
  ['DEVICE', 'device'],
  ['CPU', 'host_pinned'],
  ['CPU_PINNED', 'host_pinned'],
  ['CPU_TIER1', 'host_pinned'],
  ['DISK', 'disk'],
  ['CPU_TIER2', 'disk'],
  ['NVME', 'disk'],
  ['STORAGE', 'disk'],
  ['EXTERNAL', 'external'],
  ['NETWORK', 'external'],
  ['REMOTE', 'external'],
  ['SHARED', 'external'],
]);

/** The tier for a wire medium; absent, nil and "" mean device. Unknown media give null. */
export function tierFromMedium(medium: unknown): StorageTier | null {
  if (medium === undefined || medium === null || medium === '') return 'device';
  if (typeof medium !== 'string') return null;
  return TIER_BY_MEDIUM.get(medium) ?? TIER_BY_MEDIUM.get(medium.toUpperCase()) ?? null;
}
