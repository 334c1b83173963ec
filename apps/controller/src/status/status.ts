import type { IndexerDeployment, IndexerDeploymentStatus, ModelStatus } from '../api/indexer-deployment.ts';
import type { DesiredState } from '../desired/desired-state.ts';
import { type ConditionUpdate, setCondition } from './conditions.ts';

// The status the controller writes, from the desired state and what it observed this reconcile:
// the PUT outcomes and each indexer replica's GET /v1/models. No I/O.

/** One entry of a data plane's `GET /v1/models` (the fields status needs). */
export interface IndexerModelReport {
  model_name: string;
  routing_group: string;
  blocks: Record<string, number>;
  lag_seconds: number | null;
  gaps: number;
  replays: number;
  workers: Array<{ instance_id: unknown; dp_rank: number; status: string; blocks?: Record<string, number> }>;
}

export interface ModelObservation {
  /** Per ready replica: its /v1/models rows for this model, or the error reading them. */
  reports: Array<{ pod: string; rows: IndexerModelReport[] } | { pod: string; error: string }>;
  /** Failed PUTs this reconcile: "pod: message". */
  feedErrors: string[];
  /** Generation changes the indexers reported (cumulative, kept by the controller). */
  restartsDetected: number;
}

export interface StatusResult {
  status: IndexerDeploymentStatus;
  /** Conditions whose status flipped: each worth an Event. */
  transitions: ConditionUpdate[];
}

function modelRow(m: DesiredState['models'][number], o: ModelObservation | undefined): ModelStatus {
  const row: ModelStatus = {
    name: m.model,
    routingGroups: m.routingGroups.length,
    workers: m.workers.length,
    readyWorkers: 0,
    replicas: m.replicas,
    readyReplicas: m.readyReplicas,
    blocks: 0,
    gaps: 0,
    replays: 0,
    restartsDetected: o?.restartsDetected ?? 0,
  };
  const reports = (o?.reports ?? []).filter((r) => 'rows' in r);
  if (reports.length === 0) return row;
  // Replicas are active-active copies: a worker is ready when every replica follows it.
  let readyWorkers = Number.POSITIVE_INFINITY;
  let lag: number | undefined;
  for (const r of reports) {
    let active = 0;
    let blocks = 0;
    for (const g of r.rows) {
      active += g.workers.filter((w) => w.status === 'active').length;
      blocks += Object.values(g.blocks).reduce((a, b) => a + b, 0);
      row.gaps = Math.max(row.gaps ?? 0, g.gaps);
      row.replays = Math.max(row.replays ?? 0, g.replays);
      if (g.lag_seconds !== null) lag = Math.max(lag ?? 0, g.lag_seconds);
    }
    readyWorkers = Math.min(readyWorkers, active);
    row.blocks = Math.max(row.blocks ?? 0, blocks);
  }
  row.readyWorkers = reports.length < m.readyReplicas ? 0 : readyWorkers;
  if (lag !== undefined) row.maxLagSeconds = Math.round(lag * 1000) / 1000;
  return row;
}

export function buildStatus(
  idxd: IndexerDeployment,
  desired: DesiredState,
  observations: Map<string, ModelObservation>,
  now: Date,
): StatusResult {
  const generation = idxd.metadata.generation ?? 0;
  const models = desired.models.map((m) => modelRow(m, observations.get(m.model)));
  const feedErrors = [...observations.values()].flatMap((o) => o.feedErrors);
  const readErrors = [...observations.values()].flatMap((o) =>
    o.reports.flatMap((r) => ('error' in r ? [`${r.pod}: ${r.error}`] : [])),
  );

  const degraded: ConditionUpdate =
    desired.problems.length > 0
      ? {
          type: 'Degraded',
          status: 'True',
          reason: desired.problems[0]!.reason,
          message: desired.problems.map((p) => `${p.reason}: ${p.message}`).join('\n'),
        }
      : feedErrors.length > 0
        ? { type: 'Degraded', status: 'True', reason: 'FeedFailed', message: feedErrors.join('\n') }
        : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no misconfiguration found' };

  const waiting = models.filter(
    (m) => (m.readyReplicas ?? 0) < (m.replicas ?? 0) || (m.readyWorkers ?? 0) < (m.workers ?? 0),
  );
  const progressing: ConditionUpdate =
    waiting.length > 0
      ? {
          type: 'Progressing',
          status: 'True',
          reason: waiting.some((m) => (m.readyReplicas ?? 0) < (m.replicas ?? 0))
            ? 'ScalingIndexers'
            : 'Subscribing',
          message: waiting
            .map(
              (m) =>
                `${m.name}: ${m.readyReplicas}/${m.replicas} indexer replicas ready, ${m.readyWorkers}/${m.workers} workers followed`,
            )
            .join('; '),
        }
      : {
          type: 'Progressing',
          status: 'False',
          reason: 'Stable',
          message: 'every indexer follows every worker',
        };

  const unserved = models.filter((m) => (m.readyReplicas ?? 0) === 0);
  const ready: ConditionUpdate =
    models.length === 0
      ? { type: 'Ready', status: 'False', reason: 'NoWorkers', message: 'no worker pods selected' }
      : unserved.length > 0
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'IndexersNotReady',
            message: `no ready indexer replica for ${unserved.map((m) => m.name).join(', ')}`,
          }
        : feedErrors.length > 0 || readErrors.length > 0
          ? {
              type: 'Ready',
              status: 'False',
              reason: 'IndexersUnreachable',
              message: [...feedErrors, ...readErrors].join('\n'),
            }
          : {
              type: 'Ready',
              status: 'True',
              reason: 'IndexersReady',
              message: `${models.length} model(s) indexed by at least one ready replica`,
            };

  let conditions = idxd.status?.conditions;
  const transitions: ConditionUpdate[] = [];
  for (const c of [ready, progressing, degraded]) {
    const next = setCondition(conditions, c, generation, now);
    conditions = next.conditions;
    if (next.transitioned) transitions.push(c);
  }
  const sum = (f: (m: ModelStatus) => number | undefined) => models.reduce((a, m) => a + (f(m) ?? 0), 0);
  return {
    status: {
      observedGeneration: generation,
      conditions,
      modelCount: models.length,
      workers: sum((m) => m.workers),
      readyWorkers: sum((m) => m.readyWorkers),
      replicas: sum((m) => m.replicas),
      readyReplicas: sum((m) => m.readyReplicas),
      models,
      failedWorkers: desired.failedWorkers.slice(0, 32),
    },
    transitions,
  };
}

/** Status equality ignoring nothing but key order: the controller writes only real changes. */
export function sameStatus(a: IndexerDeploymentStatus | undefined, b: IndexerDeploymentStatus): boolean {
  return a !== undefined && canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : 1)))
      : x,
  );
}
