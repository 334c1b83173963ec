import { parentPort } from 'node:worker_threads';
import type { RouterEvent } from '@kvindex/core';
import { type Logger, ZmqEventListener } from '@kvindex/transport';
import { packListenerBatch } from '../service/columnar-batch.ts';
import type { FromIngestWorker, ListenerSpecMessage, ToIngestWorker } from './ingest-worker-protocol.ts';
import { clearedEvent } from './zmq-listener.ts';
import { ZmqListenerReporter } from './zmq-listener-report.ts';

/**
 * The ingest worker (a worker_threads Worker started by ./zmq-worker-listener.ts): runs the
 * service's ZmqEventListeners, whole — sockets, seq cursor, gap replay, restart detection, msgpack
 * decode, drop counting — and posts each batch to the main thread packed into u32 columns whose
 * buffers are transferred, not copied. The main thread only applies them (in slices).
 */

const port = parentPort;
if (!port) throw new Error('zmq-ingest-worker must run as a worker thread');

/** How often listener states are compared and, when changed, reported. */
const REPORT_MS = 100;

interface Hosted {
  listener: ZmqEventListener;
  reporter: ZmqListenerReporter;
  /** The last report posted, serialized, so unchanged states are not re-sent. */
  lastReport: string;
}

const hosted = new Map<number, Hosted>();

function post(message: FromIngestWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

// No debug: a per-message log line would cost a postMessage each.
const logger: Logger = {
  info: (msg, fields) => post({ type: 'log', level: 'info', msg, fields }),
  warn: (msg, fields) => post({ type: 'log', level: 'warn', msg, fields }),
  error: (msg, fields) => post({ type: 'log', level: 'error', msg, fields }),
};

function sendEvents(id: number, workerId: bigint, events: RouterEvent[], ts: number | undefined): void {
  const { batch, transfer } = packListenerBatch(workerId, events);
  post({ type: 'events', id, batch, ts }, transfer);
}

function open(id: number, spec: ListenerSpecMessage): void {
  const reporter = new ZmqListenerReporter();
  const listener = new ZmqEventListener({
    workerId: spec.instanceId,
    dpRank: spec.dpRank,
    endpoint: spec.endpoint,
    replayEndpoint: spec.replayEndpoint ?? null,
    blockSize: spec.blockSize,
    onEvents: (events, meta) => {
      reporter.noteBatch(meta);
      sendEvents(id, spec.instanceId, events, Number.isFinite(meta.ts) ? meta.ts : undefined);
    },
    onClear: (worker) => sendEvents(id, spec.instanceId, [clearedEvent(worker)], undefined),
    logger,
  });
  const h: Hosted = { listener, reporter, lastReport: '' };
  hosted.set(id, h);
  if (spec.paused) listener.pause();
  listener.start();
  report(id, h);
}

function report(id: number, h: Hosted): void {
  const r = h.reporter.report(h.listener);
  const text = JSON.stringify(r);
  if (text === h.lastReport) return;
  h.lastReport = text;
  post({ type: 'state', id, report: r });
}

async function close(id: number): Promise<void> {
  const h = hosted.get(id);
  hosted.delete(id);
  try {
    await h?.listener.stop();
  } finally {
    post({ type: 'closed', id });
  }
}

port.on('message', (m: ToIngestWorker) => {
  switch (m.type) {
    case 'open':
      open(m.id, m.spec);
      return;
    case 'close':
      void close(m.id);
      return;
    case 'pause':
      hosted.get(m.id)?.listener.pause();
      return;
    case 'resume':
      hosted.get(m.id)?.listener.resume();
      return;
    case 'shutdown':
      // Ends the thread by leaving nothing to run (see IngestWorkerHost.shutDownWorker for why).
      clearInterval(reporting);
      port.close();
      return;
  }
});

const reporting = setInterval(() => {
  for (const [id, h] of hosted) report(id, h);
}, REPORT_MS);
