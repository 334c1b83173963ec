import type { V1Container, V1Pod } from '@kubernetes/client-node';

/**
 * A pod serves when it is Running, Ready, has a pod IP and is not being deleted: the rule of the
 * Gateway API Inference Extension's endpoint picker, so kvindex and the gateway agree on the fleet.
 */
export function isPodServing(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (pod.status?.phase !== 'Running') return false;
  if (!pod.status.podIP) return false;
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True';
}

export function matchesLabels(pod: V1Pod, matchLabels: Record<string, string>): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

export function podName(pod: V1Pod): string {
  return pod.metadata?.name ?? '';
}

export function restartCount(pod: V1Pod, container: V1Container): number {
  return pod.status?.containerStatuses?.find((s) => s.name === container.name)?.restartCount ?? 0;
}

export function annotation(pod: V1Pod, key: string): string | undefined {
  return pod.metadata?.annotations?.[key];
}

/** Sorted by name, so everything derived from a pod list is deterministic. */
export function byName(pods: readonly V1Pod[]): V1Pod[] {
  return [...pods].sort((a, b) => (podName(a) < podName(b) ? -1 : podName(a) > podName(b) ? 1 : 0));
}
