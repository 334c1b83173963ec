import { createMetrics, type ServiceMetrics } from '../metrics/metrics.ts';
import { Ingestor } from './ingestor.ts';
import type { IndexFactory, ListenerFactory } from './ports.ts';
import { QueryStats } from './query-stats.ts';
import { type Partition, WorkerRegistry } from './registry.ts';

/** Everything the HTTP layer serves from: registry, ingestion, metrics and live rates. */
export interface Service {
  readonly registry: WorkerRegistry;
  readonly ingestor: Ingestor;
  readonly metrics: ServiceMetrics;
  readonly queries: QueryStats;
  /** Events per second applied, per partition, over the last sampling interval. */
  eventRate(p: Partition): number;
  close(): Promise<void>;
}

export interface ServiceOptions {
  indexFactory: IndexFactory;
  listenerFactory: ListenerFactory;
  ingestSliceMs?: number;
}

export function createService(options: ServiceOptions): Service {
  let metrics: ServiceMetrics | undefined;
  let registryRef: WorkerRegistry | undefined;
  const ingestor = new Ingestor({
    sliceMs: options.ingestSliceMs ?? 2,
    onPressure: (overloaded) => registryRef?.setPaused(overloaded),
  });
  const registry = new WorkerRegistry({
    indexFactory: options.indexFactory,
    listenerFactory: options.listenerFactory,
    ingestor,
    onApplied: (type, status) => metrics?.eventApplied(type, status),
    onReceived: (p, n) => metrics?.eventsReceived(p.modelName, p.routingGroup, n),
  });
  registryRef = registry;
  metrics = createMetrics(registry, ingestor);

  const rates = new WeakMap<Partition, { at: number; count: number; rate: number }>();
  const sample = () => {
    const now = performance.now();
    for (const p of registry.partitions()) {
      const count = p.eventsApplied + p.eventsFailed;
      const prev = rates.get(p);
      const rate = prev ? ((count - prev.count) * 1000) / Math.max(1, now - prev.at) : 0;
      rates.set(p, { at: now, count, rate });
    }
  };
  const timer = setInterval(sample, 1000);
  timer.unref();

  return {
    registry,
    ingestor,
    metrics,
    queries: new QueryStats(),
    eventRate: (p) => rates.get(p)?.rate ?? 0,
    async close() {
      clearInterval(timer);
      await registry.close();
    },
  };
}
