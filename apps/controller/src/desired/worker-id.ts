import { isU64, xxh3_64_utf8 } from '@kvindex/core';

export const WORKER_ID_ANNOTATION = 'kvindex.io/worker-id';

/**
 * The worker's u64 id: XXH3-64 of "namespace/name" (seed 0), stable across controller restarts and
 * pod restarts that keep the name (StatefulSets); the pod annotation kvindex.io/worker-id (a decimal
 * u64) overrides it, e.g. to match ids an engine already reports.
 */
export function workerIdOf(namespace: string, name: string, override: string | undefined): bigint | string {
  if (override === undefined) return xxh3_64_utf8(`${namespace}/${name}`, 0n);
  if (!/^[0-9]{1,20}$/.test(override))
    return `annotation ${WORKER_ID_ANNOTATION} must be a decimal u64, got ${JSON.stringify(override)}`;
  const id = BigInt(override);
  if (!isU64(id)) return `annotation ${WORKER_ID_ANNOTATION} ${override} exceeds u64`;
  return id;
}
