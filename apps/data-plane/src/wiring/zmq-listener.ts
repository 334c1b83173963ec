import type { RouterEvent } from '@kvindex/core';
import { type Logger as TransportLogger, ZmqEventListener } from '@kvindex/transport';
import type { Logger } from 'pino';
import type { EventListener, ListenerFactory, ListenerStats, ListenerStatus } from '../service/ports.ts';

/**
 * @kvindex/transport's ZmqEventListener (vLLM/SGLang wire, seq cursor, gap replay, restart
 * detection) behind the service's listener port. Statuses keep Dynamo's vocabulary for /workers:
 * a replaying listener is `active`, a stopped one `paused`; an engine restart becomes a `cleared`
 * event for each rank it fed, queued in order with the rest.
 */
export function zmqListenerFactory(logger?: Logger): ListenerFactory {
  const log: TransportLogger | undefined = logger
    ? {
        debug: (msg, fields) => logger.debug(fields ?? {}, msg),
        info: (msg, fields) => logger.info(fields ?? {}, msg),
        warn: (msg, fields) => logger.warn(fields ?? {}, msg),
        error: (msg, fields) => logger.error(fields ?? {}, msg),
      }
    : undefined;
  return (spec, sink) => {
    let lagSeconds: number | undefined;
    let sawLive = false;
    const listener = new ZmqEventListener({
      workerId: spec.instanceId,
      dpRank: spec.dpRank,
      endpoint: spec.endpoint,
      replayEndpoint: spec.replayEndpoint ?? null,
      blockSize: spec.blockSize,
      onEvents: (events, meta) => {
        const { ts } = meta;
        if (Number.isFinite(ts)) lagSeconds = Math.max(0, Date.now() / 1000 - ts);
        if (!meta.replayed) sawLive = true;
        sink(events, Number.isFinite(ts) ? ts : undefined);
      },
      onClear: (worker) => {
        const cleared: RouterEvent = {
          worker_id: worker.worker_id,
          storage_tier: 'device',
          event: { event_id: 0n, dp_rank: worker.dp_rank, data: 'cleared' },
        };
        sink([cleared], undefined);
      },
      ...(log ? { logger: log } : {}),
    });
    listener.start();
    const adapter: EventListener = {
      status(): ListenerStatus {
        const s = listener.status().state;
        if (s === 'replaying') return 'active';
        if (s === 'stopped') return 'paused';
        return s;
      },
      lastError: () => listener.status().last_error ?? undefined,
      stats(): ListenerStats {
        const st = listener.stats();
        const status = listener.status();
        let decodeErrors = 0;
        const dropped: Record<string, number> = {};
        for (const [reason, n] of Object.entries(st.dropped_messages)) {
          if (reason !== 'stale') decodeErrors += n;
          if (n > 0) dropped[`message_${reason}`] = n;
        }
        for (const [reason, n] of Object.entries(st.dropped_events)) if (n > 0) dropped[reason] = n;
        return {
          batches: st.batches_applied,
          events: st.events,
          gaps: st.gaps,
          replays: st.replays,
          decodeErrors,
          lagSeconds,
          caughtUp: status.state === 'active' && (sawLive || st.messages === 0),
          dropped,
        };
      },
      close: () => listener.stop(),
      pause: () => listener.pause(),
      resume: () => listener.resume(),
    };
    return adapter;
  };
}
