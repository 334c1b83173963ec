import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ReceivedBatch } from '../service/columnar-batch.ts';
import type { EventListener, EventSink, ListenerFactory, ListenerSpec } from '../service/ports.ts';
import type { FromIngestWorker, ToIngestWorker } from './ingest-worker-protocol.ts';
import type { ListenerReport } from './zmq-listener-report.ts';

/**
 * ZMQ listeners run in one ingest worker thread (./zmq-ingest-worker.ts): receiving, seq/gap/
 * replay handling and msgpack decoding stay off the thread that answers queries, which only
 * applies the packed batches through the Ingestor's slices. See docs/decisions/006.
 *
 * Each listener here is a proxy: its status and stats are the worker's latest report (at most
 * ~100 ms old), pause/resume/close are messages. Unregistering stops the sink at once (the
 * registry's `alive` flag), so batches still in flight from the worker are dropped on arrival and
 * cannot resurrect a removed worker's blocks. If the worker dies, its listeners report `failed`
 * and a new worker reopens them (the engines' replay buffers cover what can be covered).
 */

const RESPAWN_DELAY_MS = 1000;

interface Proxy {
  readonly spec: ListenerSpec;
  readonly sink: EventSink;
  report: ListenerReport;
  paused: boolean;
  closing: (() => void) | undefined;
}

const PENDING: ListenerReport = {
  status: 'pending',
  lastError: undefined,
  stats: {
    batches: 0,
    events: 0,
    gaps: 0,
    replays: 0,
    decodeErrors: 0,
    lagSeconds: undefined,
    caughtUp: false,
    dropped: {},
  },
};

function workerEntry(): { url: URL; execArgv: string[] | undefined } {
  // From source (node --conditions=source, vitest) the worker is the .ts file and must resolve
  // workspace packages to their sources too; built, it is the .js next to this one and inherits
  // the process's options. Only the condition is passed: process-wide flags such as --cpu-prof or
  // --trace-gc are refused in a worker's execArgv (ERR_WORKER_INVALID_EXEC_ARGV).
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './zmq-ingest-worker.ts' : './zmq-ingest-worker.js', import.meta.url);
  const execArgv = fromSource ? ['--conditions=source'] : undefined;
  return { url, execArgv };
}

export class IngestWorkerHost {
  private worker: Worker | undefined;
  private readonly proxies = new Map<number, Proxy>();
  private nextId = 1;
  private readonly logger: Logger | undefined;
  private respawnTimer: NodeJS.Timeout | undefined;

  constructor(logger?: Logger) {
    this.logger = logger;
  }

  open(spec: ListenerSpec, sink: EventSink): EventListener {
    const id = this.nextId++;
    const proxy: Proxy = { spec, sink, report: PENDING, paused: false, closing: undefined };
    this.proxies.set(id, proxy);
    this.sendOpen(id, proxy);
    return {
      status: () => proxy.report.status,
      lastError: () => proxy.report.lastError,
      stats: () => proxy.report.stats,
      pause: () => {
        proxy.paused = true;
        this.send({ type: 'pause', id });
      },
      resume: () => {
        proxy.paused = false;
        this.send({ type: 'resume', id });
      },
      close: () => this.close(id, proxy),
    };
  }

  /** Listeners currently open (for tests and shutdown). */
  get openListeners(): number {
    return this.proxies.size;
  }

  private close(id: number, proxy: Proxy): Promise<void> {
    if (!this.proxies.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      proxy.closing = () => {
        proxy.closing = undefined;
        this.proxies.delete(id);
        // The last listener out stops the worker, and its close waits for the thread to be gone.
        if (this.proxies.size === 0) void this.shutDownWorker().then(resolve);
        else resolve();
      };
      if (this.worker) this.send({ type: 'close', id });
      else proxy.closing();
    });
  }

  private sendOpen(id: number, proxy: Proxy): void {
    const s = proxy.spec;
    this.send({
      type: 'open',
      id,
      spec: {
        instanceId: s.instanceId,
        dpRank: s.dpRank,
        endpoint: s.endpoint,
        replayEndpoint: s.replayEndpoint,
        blockSize: s.blockSize,
        paused: proxy.paused,
      },
    });
  }

  private send(message: ToIngestWorker): void {
    this.ensureWorker().postMessage(message);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const { url, execArgv } = workerEntry();
    const worker = new Worker(url, { name: 'kvindex-ingest', ...(execArgv ? { execArgv } : {}) });
    // Kept referenced: open listeners keep the process alive, as their sockets would in-thread,
    // and a close waiting for the worker's answer must not see the event loop run dry.
    worker.on('message', (m: FromIngestWorker) => this.onMessage(m));
    worker.on('error', (err) => this.onWorkerGone(worker, `ingest worker failed: ${err.message}`));
    worker.on('exit', (code) => this.onWorkerGone(worker, `ingest worker exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private onMessage(m: FromIngestWorker): void {
    if (m.type === 'log') {
      this.logger?.[m.level](m.fields ?? {}, m.msg);
      return;
    }
    const proxy = this.proxies.get(m.id);
    if (!proxy) return;
    switch (m.type) {
      case 'events':
        // After close() the registry's sink ignores batches still arriving: nothing resurrects.
        proxy.sink(new ReceivedBatch(m.batch), m.ts);
        return;
      case 'state':
        proxy.report = m.report;
        return;
      case 'closed':
        proxy.closing?.();
        return;
    }
  }

  private onWorkerGone(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.logger?.error(
      { reason },
      'kv event ingest worker stopped; its listeners are failed until it is restarted',
    );
    for (const proxy of [...this.proxies.values()]) {
      proxy.report = { ...proxy.report, status: 'failed', lastError: reason };
      proxy.closing?.();
    }
    if (this.proxies.size > 0 && !this.respawnTimer) {
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined;
        for (const [id, proxy] of this.proxies) this.sendOpen(id, proxy);
      }, RESPAWN_DELAY_MS);
      this.respawnTimer.unref();
    }
  }

  /**
   * With no listener left the worker is asked to finish and exits on its own; the next
   * registration starts a new one. Not `terminate()`: zeromq 6 aborts the whole process when a
   * thread that used socket event observers is torn down (the listeners observe connects), so the
   * worker must end by running out of work, after its sockets are closed.
   */
  private shutDownWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    this.worker = undefined;
    return new Promise((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'shutdown' } satisfies ToIngestWorker);
    });
  }
}

export function zmqWorkerListenerFactory(logger?: Logger): ListenerFactory {
  const host = new IngestWorkerHost(logger);
  return (spec, sink) => host.open(spec, sink);
}
