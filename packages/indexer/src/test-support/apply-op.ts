import type { RouterEvent } from '@kvindex/core';
import type { ApplyStatus } from '../apply-status.ts';
import type { KvIndex } from '../kv-index.ts';
import type { StreamOp } from './event-stream.ts';

export interface IndexLike {
  applyEvent(event: RouterEvent): ApplyStatus;
  removeWorker(workerId: bigint): void;
  removeWorkerDpRank(workerId: bigint, dpRank: number): void;
  clearAllBlocks(workerId: bigint): void;
}

export function applyOp(index: IndexLike, op: StreamOp): ApplyStatus {
  switch (op.kind) {
    case 'event':
      return index.applyEvent(op.event);
    case 'remove_worker':
      index.removeWorker(op.workerId);
      return 'ok';
    case 'remove_worker_dp_rank':
      index.removeWorkerDpRank(op.workerId, op.dpRank);
      return 'ok';
    case 'clear_all_blocks':
      index.clearAllBlocks(op.workerId);
      return 'ok';
  }
}

/** The index's scores as "<worker>:<dp>" → blocks. */
export function scoreMap(index: KvIndex, query: readonly bigint[], earlyExit = false): Map<string, number> {
  const m = index.findMatches(query, { earlyExit });
  const out = new Map<string, number>();
  for (let i = 0; i < m.count; i++) out.set(`${m.workerIds[i]}:${m.dpRanks[i]}`, m.scores[i]!);
  return out;
}

export function sizeMap(index: KvIndex): Map<string, number> {
  return new Map(index.treeSizes().map((r) => [`${r.worker_id}:${r.dp_rank}`, r.blocks]));
}

export function sortedEntries(map: Map<string, number>): [string, number][] {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
