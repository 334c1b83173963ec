import type { RouterEvent, WorkerKey } from '@kvindex/core';
import { type Logger as TransportLogger, ZmqEventListener } from '@kvindex/transport';
import type { Logger } from 'pino';
import type { EventListener, ListenerFactory } from '../service/ports.ts';
import { ZmqListenerReporter } from './zmq-listener-report.ts';

/**
 * @kvindex/transport's ZmqEventListener (vLLM/SGLang wire, seq cursor, gap replay, restart
 * detection) behind the service's listener port, on the calling thread (the service runs them in
 * the ingest worker instead: ./zmq-worker-listener.ts). Statuses keep Dynamo's vocabulary for /workers:
 * a replaying listener is `active`, a stopped one `paused`; an engine restart becomes a `cleared`
 * event for each rank it fed, queued in order with the rest.
 */
export function zmqListenerFactory(logger?: Logger): ListenerFactory {
  const log = logger ? transportLogger(logger) : undefined;
  return (spec, sink) => {
    const reporter = new ZmqListenerReporter();
    const listener = new ZmqEventListener({
      workerId: spec.instanceId,
      dpRank: spec.dpRank,
      endpoint: spec.endpoint,
      replayEndpoint: spec.replayEndpoint ?? null,
      blockSize: spec.blockSize,
      onEvents: (events, meta) => {
        reporter.noteBatch(meta);
        sink(events, Number.isFinite(meta.ts) ? meta.ts : undefined);
      },
      onClear: (worker) => sink([clearedEvent(worker)], undefined),
      ...(log ? { logger: log } : {}),
    });
    listener.start();
    const adapter: EventListener = {
      status: () => reporter.status(listener),
      lastError: () => reporter.lastError(listener),
      stats: () => reporter.stats(listener),
      close: () => listener.stop(),
      pause: () => listener.pause(),
      resume: () => listener.resume(),
    };
    return adapter;
  };
}

/** An engine restart, as a `cleared` event for the rank, queued in order with the rest. */
export function clearedEvent(worker: WorkerKey): RouterEvent {
  return {
    worker_id: worker.worker_id,
    storage_tier: 'device',
    event: { event_id: 0n, dp_rank: worker.dp_rank, data: 'cleared' },
  };
}

/** @kvindex/transport's Logger over pino. */
export function transportLogger(logger: Logger): TransportLogger {
  return {
    debug: (msg, fields) => logger.debug(fields ?? {}, msg),
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
    error: (msg, fields) => logger.error(fields ?? {}, msg),
  };
}
