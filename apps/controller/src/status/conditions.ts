import type { Condition } from '../api/indexer-deployment.ts';

export type ConditionStatus = Condition['status'];

export interface ConditionUpdate {
  type: 'Ready' | 'Progressing' | 'Degraded';
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Sets one condition the way apimachinery's meta.SetStatusCondition does: lastTransitionTime moves
 * only when the status changes, so `kubectl describe` shows since when something has been true.
 * Returns a new list (conditions sorted by type) and whether the status flipped (worth an Event).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number,
  now: Date,
): { conditions: Condition[]; transitioned: boolean } {
  const existing = conditions?.find((c) => c.type === update.type);
  const transitioned = existing?.status !== update.status;
  const next: Condition = {
    ...update,
    observedGeneration,
    lastTransitionTime: transitioned || !existing ? rfc3339(now) : existing.lastTransitionTime,
  };
  const others = (conditions ?? []).filter((c) => c.type !== update.type);
  return { conditions: [...others, next].sort((a, b) => (a.type < b.type ? -1 : 1)), transitioned };
}

/** metav1.Time: RFC 3339 in UTC with whole seconds. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
