import type { WorkerKey } from '@kvindex/core';

export type { WorkerKey };

/** The `"<worker>:<dp>"` form used as a map key and in the conform protocol. */
export function workerKeyText(workerId: bigint, dpRank: number): string {
  return `${workerId}:${dpRank}`;
}
