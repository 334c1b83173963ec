import type { WorkerMatch } from './ports.ts';

/**
 * Dynamo's ScoreResponse for /query and /query_by_hash: counts in tokens (blocks × block_size);
 * `scores` is the device tier per (worker, dp_rank) with zeros omitted; `instances` is the
 * per-worker tier breakdown (cumulative gpu ≤ cpu ≤ disk, each the max over ranks) for every
 * worker with at least one matched block in any tier. `frequencies` is always empty.
 */

export interface InstanceSummary {
  longest_matched: number;
  gpu: number;
  dp: Record<string, number>;
  cpu: number;
  disk: number;
}

export interface ScoreResponse {
  scores: Record<string, Record<string, number>>;
  frequencies: number[];
  instances: Record<string, InstanceSummary>;
}

export function scoreResponse(matches: readonly WorkerMatch[], blockSize: number): ScoreResponse {
  const scores: Record<string, Record<string, number>> = {};
  const instances: Record<string, InstanceSummary> = {};
  const ordered = [...matches].sort((a, b) =>
    a.workerId === b.workerId ? a.dpRank - b.dpRank : a.workerId < b.workerId ? -1 : 1,
  );
  for (const m of ordered) {
    if (m.disk <= 0 && m.host <= 0 && m.device <= 0) continue;
    const w = String(m.workerId);
    const dp = String(m.dpRank);
    const gpu = m.device * blockSize;
    const cpu = Math.max(m.host, m.device) * blockSize;
    const disk = Math.max(m.disk, m.host, m.device) * blockSize;
    if (gpu > 0) {
      scores[w] ??= {};
      scores[w][dp] = gpu;
    }
    instances[w] ??= { longest_matched: 0, gpu: 0, dp: {}, cpu: 0, disk: 0 };
    const s = instances[w];
    s.dp[dp] = gpu;
    s.gpu = Math.max(s.gpu, gpu);
    s.cpu = Math.max(s.cpu, cpu);
    s.disk = Math.max(s.disk, disk);
    s.longest_matched = Math.max(s.gpu, s.cpu, s.disk);
  }
  return { scores, frequencies: [], instances };
}
