import type { RouterEvent } from '@kvindex/core';
import { DynamoNatsSubscriber } from '@kvindex/transport';
import type { Logger } from 'pino';
import { routerEventBatch } from '../service/ingestor.ts';
import type { Service } from '../service/service.ts';

/**
 * `--nats-url`: Dynamo's NATS KV event plane (`namespace/component` subjects) feeding one
 * partition (`--model-name`, `--routing-group`, `--block-size`). Events go through the same
 * ingest queue as ZMQ listeners; a restarted publisher's ranks are cleared.
 */
export interface NatsIngestOptions {
  url: string;
  subjects: string[];
  modelName: string;
  routingGroup: string;
  blockSize: number;
  logger?: Logger | undefined;
}

export function startNatsIngest(service: Service, o: NatsIngestOptions): { close(): Promise<void> } {
  const { registry, ingestor } = service;
  const p = registry.pinPartition(o.modelName, o.routingGroup, o.blockSize);
  const apply = (e: RouterEvent) => {
    registry.applyEvent(p, e);
  };
  const alive = () => true;
  const subscribers = o.subjects.map((subject) => {
    const [namespace, component] = subject.split('/');
    if (!namespace || !component)
      throw new Error(`--nats-subjects entry ${JSON.stringify(subject)} must be namespace/component`);
    const sub = new DynamoNatsSubscriber({
      servers: o.url,
      namespace,
      component,
      onEvents: (events) => {
        service.metrics.eventsReceived(p.modelName, p.routingGroup, events.length);
        ingestor.push(routerEventBatch(events, apply, alive));
      },
      onClear: (worker) => {
        const cleared: RouterEvent = {
          worker_id: worker.worker_id,
          storage_tier: 'device',
          event: { event_id: 0n, dp_rank: worker.dp_rank, data: 'cleared' },
        };
        ingestor.push(routerEventBatch([cleared], apply, alive));
      },
      ...(o.logger
        ? {
            logger: {
              info: (msg: string, fields?: Record<string, unknown>) => o.logger!.info(fields ?? {}, msg),
              warn: (msg: string, fields?: Record<string, unknown>) => o.logger!.warn(fields ?? {}, msg),
            },
          }
        : {}),
    });
    p.sources.push({
      kind: 'nats',
      name: sub.subject,
      state: () => sub.status().state,
      stats: () => {
        const st = sub.stats();
        const dropped: Record<string, number> = {};
        for (const [reason, n] of Object.entries(st.dropped_messages))
          if (n > 0) dropped[`message_${reason}`] = n;
        for (const [reason, n] of Object.entries(st.dropped_events)) if (n > 0) dropped[reason] = n;
        return { events: st.events, gaps: st.gaps, dropped, lastError: sub.status().last_error ?? undefined };
      },
    });
    // start() waits for a first server; ingestion begins whenever NATS is reachable.
    sub.start().then(
      () => o.logger?.info({ subject: sub.subject }, 'subscribed to NATS KV events'),
      (err: Error) => o.logger?.error({ subject: sub.subject, err: err.message }, 'NATS subscription failed'),
    );
    return sub;
  });
  return {
    close: async () => {
      await Promise.all(subscribers.map((s) => s.stop().catch(() => {})));
    },
  };
}
