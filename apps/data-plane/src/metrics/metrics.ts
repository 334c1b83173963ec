import { STORAGE_TIERS } from '@kvindex/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Ingestor } from '../service/ingestor.ts';
import { APPLY_STATUSES, type ApplyStatus, type ListenerStatus } from '../service/ports.ts';
import type { EventType, WorkerRegistry } from '../service/registry.ts';

/**
 * Prometheus metrics. Dynamo's names, labels and buckets where Dynamo has the metric (so existing
 * dashboards keep working), `kvindex_*` for what Dynamo does not measure: gaps, replays, decode
 * failures, event lag, blocks per model / worker / tier, the ingest queue, process metrics.
 * Registered in name order, as Dynamo's exposition lists them.
 */

const LISTENER_STATUSES: ListenerStatus[] = ['pending', 'active', 'paused', 'failed'];
const EVENT_TYPES: EventType[] = ['cleared', 'removed', 'stored'];

export interface ServiceMetrics {
  readonly registry: Registry;
  observeRequest(endpoint: string, method: string, status: number, seconds: number): void;
  eventApplied(type: EventType, status: ApplyStatus): void;
  eventsReceived(modelName: string, routingGroup: string, count: number): void;
}

export function createMetrics(workers: WorkerRegistry, ingestor: Ingestor): ServiceMetrics {
  const registry = new Registry();
  const r = [registry];

  const errors = new Counter({
    name: 'dynamo_kvindexer_errors_total',
    help: 'HTTP error responses (4xx/5xx)',
    labelNames: ['endpoint', 'status_class'],
    registers: r,
  });
  new Gauge({
    name: 'dynamo_kvindexer_listeners',
    help: 'Number of ZMQ listeners by status',
    labelNames: ['status'],
    registers: r,
    collect() {
      const counts = new Map<ListenerStatus, number>(LISTENER_STATUSES.map((s) => [s, 0]));
      for (const l of workers.listeners()) counts.set(l.status, (counts.get(l.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'dynamo_kvindexer_models',
    help: 'Number of active model+routing-group indexers',
    registers: r,
    collect() {
      this.set(workers.partitions().length);
    },
  });
  const duration = new Histogram({
    name: 'dynamo_kvindexer_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['endpoint'],
    buckets: Array.from({ length: 20 }, (_, k) => 0.0001 * 2 ** k),
    registers: r,
  });
  const requests = new Counter({
    name: 'dynamo_kvindexer_requests_total',
    help: 'Total HTTP requests',
    labelNames: ['endpoint', 'method'],
    registers: r,
  });
  new Gauge({
    name: 'dynamo_kvindexer_workers',
    help: 'Number of registered worker instances',
    registers: r,
    collect() {
      this.set(workers.instanceCount());
    },
  });
  const ckf = new Counter({
    name: 'dynamo_kvrouter_ckf_mutation_total',
    help: 'Total number of CKF block-level mutation outcomes',
    labelNames: ['outcome'],
    registers: r,
  });
  for (const outcome of ['capacity_exhausted', 'unknown_remove']) ckf.inc({ outcome }, 0);
  const warnings = new Counter({
    name: 'dynamo_kvrouter_kv_cache_event_warnings',
    help: 'Total number of suspicious KV cache events seen by the router indexer',
    labelNames: ['warning_kind'],
    registers: r,
  });
  warnings.inc({ warning_kind: 'duplicate_store' }, 0);
  // Counted per applied event (~100k/s under load): a labelled prom-client inc() each cost a
  // measurable share of the query thread, so events are tallied in plain numbers and handed to
  // the counter when it is scraped.
  const pendingApplied = new Map<EventType, Map<ApplyStatus, number>>();
  const applied = new Counter({
    name: 'dynamo_kvrouter_kv_cache_events_applied',
    help: 'Total number of KV cache events applied to index',
    labelNames: ['event_type', 'status'],
    registers: r,
    collect() {
      for (const [event_type, byStatus] of pendingApplied) {
        for (const [status, n] of byStatus) if (n > 0) this.inc({ event_type, status }, n);
        byStatus.clear();
      }
    },
  });
  for (const event_type of EVENT_TYPES) {
    for (const status of [...APPLY_STATUSES].sort()) applied.inc({ event_type, status }, 0);
  }

  // -- kvindex_* ------------------------------------------------------------------------------
  const partitionLabels = ['model', 'routing_group'] as const;
  const listenerLabels = ['model', 'routing_group', 'instance_id', 'dp_rank'] as const;
  new Gauge({
    name: 'kvindex_blocks',
    help: 'Blocks held in the index per model, routing group and storage tier',
    labelNames: [...partitionLabels, 'tier'],
    registers: r,
    collect() {
      this.reset();
      for (const p of workers.partitions()) {
        const totals = Object.fromEntries(STORAGE_TIERS.map((t) => [t, 0])) as Record<string, number>;
        for (const w of p.index.workerBlocks()) for (const t of STORAGE_TIERS) totals[t]! += w.blocks[t];
        for (const t of STORAGE_TIERS)
          this.set({ model: p.modelName, routing_group: p.routingGroup, tier: t }, totals[t]!);
      }
    },
  });
  new Gauge({
    name: 'kvindex_worker_blocks',
    help: 'Blocks held per worker (instance, dp rank) and storage tier',
    labelNames: [...listenerLabels, 'tier'],
    registers: r,
    collect() {
      this.reset();
      for (const p of workers.partitions()) {
        for (const w of p.index.workerBlocks()) {
          for (const t of STORAGE_TIERS) {
            if (w.blocks[t] === 0 && t !== 'device') continue;
            this.set(
              {
                model: p.modelName,
                routing_group: p.routingGroup,
                instance_id: String(w.workerId),
                dp_rank: String(w.dpRank),
                tier: t,
              },
              w.blocks[t],
            );
          }
        }
      }
    },
  });
  new Gauge({
    name: 'kvindex_events_dropped',
    help: 'Events and messages the listeners refused (bad wire data, filtered kinds, stale seq), by reason',
    labelNames: [...partitionLabels, 'reason'],
    registers: r,
    collect() {
      this.reset();
      const totals = new Map<string, { model: string; routing_group: string; reason: string; n: number }>();
      for (const l of workers.listeners()) {
        for (const [reason, n] of Object.entries(l.stats.dropped)) {
          const key = `${l.partition.modelName}\u0000${l.partition.routingGroup}\u0000${reason}`;
          const t = totals.get(key) ?? {
            model: l.partition.modelName,
            routing_group: l.partition.routingGroup,
            reason,
            n: 0,
          };
          t.n += n;
          totals.set(key, t);
        }
      }
      for (const t of totals.values())
        this.set({ model: t.model, routing_group: t.routing_group, reason: t.reason }, t.n);
    },
  });
  const received = new Counter({
    name: 'kvindex_events_received_total',
    help: 'KV events received from listeners, before they are applied',
    labelNames: [...partitionLabels],
    registers: r,
  });
  new Gauge({
    name: 'kvindex_ingest_queue_events',
    help: 'Events received but not yet applied (ingestion runs in slices between HTTP requests)',
    registers: r,
    collect() {
      this.set(ingestor.depth);
    },
  });
  new Gauge({
    name: 'kvindex_ingest_paused',
    help: '1 while listeners are paused because the ingest queue is over its high-water mark',
    registers: r,
    collect() {
      this.set(ingestor.overloaded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kvindex_ingest_longest_slice_seconds',
    help: 'Longest stretch spent applying events without yielding to HTTP requests, since start',
    registers: r,
    collect() {
      this.set(ingestor.longestSliceMs / 1000);
    },
  });
  const listenerGauge = (
    name: string,
    help: string,
    read: (s: ReturnType<WorkerRegistry['listeners']>[number]) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [...listenerLabels],
      registers: r,
      collect() {
        this.reset();
        for (const l of workers.listeners()) {
          const v = read(l);
          if (v === undefined) continue;
          this.set(
            {
              model: l.partition.modelName,
              routing_group: l.partition.routingGroup,
              instance_id: String(l.instanceId),
              dp_rank: String(l.dpRank),
            },
            v,
          );
        }
      },
    });
  listenerGauge(
    'kvindex_listener_decode_failures',
    'Batches dropped as undecodable, per listener',
    (l) => l.stats.decodeErrors,
  );
  listenerGauge(
    'kvindex_listener_event_lag_seconds',
    'Arrival time minus the engine timestamp of the newest batch, per listener',
    (l) => l.stats.lagSeconds,
  );
  listenerGauge('kvindex_listener_failed', '1 while the listener is failed', (l) =>
    l.status === 'failed' ? 1 : 0,
  );
  listenerGauge('kvindex_listener_gaps', 'Sequence gaps detected, per listener', (l) => l.stats.gaps);
  listenerGauge(
    'kvindex_listener_replays',
    'Replays requested after gaps, per listener',
    (l) => l.stats.replays,
  );

  collectDefaultMetrics({ register: registry, prefix: 'kvindex_' });

  return {
    registry,
    observeRequest(endpoint, method, status, seconds) {
      requests.inc({ endpoint, method });
      duration.observe({ endpoint }, seconds);
      if (status >= 400) errors.inc({ endpoint, status_class: status < 500 ? '4xx' : '5xx' });
    },
    eventApplied(event_type, status) {
      let byStatus = pendingApplied.get(event_type);
      if (!byStatus) {
        byStatus = new Map();
        pendingApplied.set(event_type, byStatus);
      }
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    eventsReceived(model, routing_group, count) {
      received.inc({ model, routing_group }, count);
    },
  };
}
