import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The controller's Prometheus metrics (`/metrics`). */
export function controllerMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    reconciles: new Counter({
      name: 'kvindex_controller_reconciles_total',
      help: 'Reconciles of IndexerDeployment keys, by result (success, error, requeue).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: 'kvindex_controller_reconcile_duration_seconds',
      help: 'Time to reconcile one IndexerDeployment key.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'kvindex_controller_queue_depth',
      help: 'Keys waiting in the work queue.',
      registers: [registry],
    }),
    feeds: new Counter({
      name: 'kvindex_controller_worker_set_puts_total',
      help: 'PUT /v1/models/{model}/workers sent to indexer replicas, by result.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: 'kvindex_controller_apiserver_requests_total',
      help: 'Requests to the Kubernetes apiserver (informer watches excluded), by verb and status code.',
      labelNames: ['verb', 'code'] as const,
      registers: [registry],
    }),
    watchErrors: new Counter({
      name: 'kvindex_controller_watch_restarts_total',
      help: 'Informer watches restarted after an error, by informer.',
      labelNames: ['informer'] as const,
      registers: [registry],
    }),
    lists: new Counter({
      name: 'kvindex_controller_informer_lists_total',
      help: 'Full lists by informer: the first, then relists (410 Gone: the watch fell too far behind).',
      labelNames: ['informer'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'kvindex_controller_is_leader',
      help: '1 while this replica holds the leader Lease.',
      registers: [registry],
    }),
  };
  return m;
}

export type ControllerMetrics = ReturnType<typeof controllerMetrics>;
