import type { V1Pod } from '@kubernetes/client-node';
import { annotation, podName } from './pods.ts';
import { WORKER_ID_ANNOTATION, workerIdOf } from './worker-id.ts';

/** The annotation the ReplicaSet controller reads: lower cost is deleted first on scale-down. */
export const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/**
 * spec.workerDeletionCost: a worker pod's cost is the log2 bucket of the KV blocks the indexers hold
 * for it (max over replicas), so a scale-down removes the coldest engine first. Buckets, not raw
 * counts: block counts move with every request, and each change would be a pod write.
 * Returns pod name → annotation value, for the pods whose value differs from what they carry.
 */
export function deletionCostPatches(
  namespace: string,
  pods: readonly V1Pod[],
  blocksByWorker: ReadonlyMap<bigint, number>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const pod of pods) {
    const id = workerIdOf(namespace, podName(pod), annotation(pod, WORKER_ID_ANNOTATION));
    if (typeof id === 'string') continue;
    const blocks = blocksByWorker.get(id);
    if (blocks === undefined) continue;
    const cost = String(costOf(blocks));
    if (annotation(pod, DELETION_COST_ANNOTATION) !== cost) out.set(podName(pod), cost);
  }
  return out;
}

export function costOf(blocks: number): number {
  return blocks <= 0 ? 0 : Math.floor(Math.log2(blocks)) + 1;
}
