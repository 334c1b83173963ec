import pino, { type Logger } from 'pino';
import { type App, createApp } from './app.ts';
import type { DataPlaneOptions } from './cli/options.ts';
import { DemoFleet } from './demo/demo-fleet.ts';
import { AccessLog } from './http/access-log.ts';
import { zmqEndpointError } from './service/endpoint.ts';
import { noEventsListenerFactory } from './service/router-service.ts';
import { recoverFromPeers } from './startup/peer-recovery.ts';
import { loadNewestSnapshot, writeSnapshot } from './startup/snapshots.ts';
import { kvIndexFactory } from './wiring/kv-index-partition.ts';
import { startNatsIngest } from './wiring/nats-ingest.ts';
import { defaultQuerySubject, startIndexerQueryService } from './wiring/nats-query-service.ts';
import { remoteIndexer } from './wiring/remote-indexer.ts';
import { zmqWorkerListenerFactory } from './wiring/zmq-worker-listener.ts';

/**
 * The service's start-up, in Dynamo's order: `--workers` registered before HTTP, state loaded
 * (newest snapshot, then a peer's dump) before listeners start draining, HTTP bound once
 * DYN_ROUTER_MIN_INITIAL_WORKERS instances are registered. With nothing to listen to, the demo
 * fleet starts instead.
 */

export interface RunningDataPlane {
  app: App;
  url: string;
  demo: DemoFleet | undefined;
  logger: Logger;
  close(): Promise<void>;
}

export class StartupError extends Error {}

export function wantsDemo(o: DataPlaneOptions): boolean {
  if (o.demo === 'on') return true;
  if (o.demo === 'off') return false;
  return o.workers.length === 0 && o.natsUrl === undefined && o.peers.length === 0;
}

export async function runDataPlane(
  o: DataPlaneOptions,
  logger: Logger = pino({ level: o.logLevel }),
  /** Aborts a start-up still waiting (DYN_ROUTER_MIN_INITIAL_WORKERS), e.g. on SIGTERM. */
  signal?: AbortSignal,
): Promise<RunningDataPlane> {
  const accessLog = o.accessLog ? new AccessLog(o.accessLog, o.accessLogLocalTime) : undefined;
  const remote =
    o.useRemoteIndexer !== undefined ? remoteIndexer(o.useRemoteIndexer, { natsUrl: o.natsUrl }) : undefined;
  // Approximate mode and a remote indexer subscribe to no engine: registered workers are routing candidates only.
  const subscribe = o.router.useKvEvents && remote === undefined;
  const app = createApp({
    indexFactory: kvIndexFactory,
    listenerFactory: subscribe ? zmqWorkerListenerFactory(logger) : noEventsListenerFactory,
    router: o.router,
    routerRemote: remote,
    accessLog,
    traceIdHeader: o.traceIdHeader,
    logger,
    // 0 means no slicing: each batch is applied as soon as it is scheduled, however long that takes.
    ingestSliceMs: o.ingestSliceMs === 0 ? Number.POSITIVE_INFINITY : o.ingestSliceMs,
  });
  const { registry } = app.service;
  let demo: DemoFleet | undefined;
  let snapshotTimer: NodeJS.Timeout | undefined;
  let nats: { close(): Promise<void> } | undefined;
  let queryService: { close(): Promise<void> } | undefined;

  const close = async () => {
    if (snapshotTimer) clearInterval(snapshotTimer);
    await demo?.stop();
    await nats?.close();
    await queryService?.close();
    await remote?.close();
    // Stops accepting, lets in-flight requests finish, then closes the service (listeners).
    await app.server.close();
    if (o.snapshotDir) {
      await writeSnapshot(o.snapshotDir, registry).catch((err: Error) =>
        logger.warn({ err: err.message }, 'final snapshot failed'),
      );
    }
    await accessLog?.close();
  };

  try {
    for (const w of o.workers) {
      const err = zmqEndpointError(w.endpoint);
      if (err) throw new StartupError(`--workers: ${err}`);
      registry.register({
        instanceId: w.instanceId,
        endpoint: w.endpoint,
        replayEndpoint: undefined,
        modelName: o.modelName,
        routingGroup: o.routingGroup,
        blockSize: o.blockSize!,
        dpRank: w.dpRank,
      });
      logger.info(
        { instance_id: String(w.instanceId), dp_rank: w.dpRank, endpoint: w.endpoint },
        'registering initial worker',
      );
    }
    if (o.snapshotDir) {
      const loaded = await loadNewestSnapshot(o.snapshotDir, registry);
      if (loaded) logger.info({ file: loaded.file, ...loaded.result }, 'snapshot loaded');
    }
    if (o.peers.length > 0) await recoverFromPeers(registry, o.peers, { logger });
    if (wantsDemo(o)) {
      demo = await DemoFleet.start(app.service, {
        modelName: o.modelName,
        routingGroup: o.routingGroup,
        logger,
      });
    }
    registry.start();
    if (o.natsUrl !== undefined) {
      if (o.blockSize === undefined) throw new StartupError('--block-size is required with --nats-url');
      nats = startNatsIngest(app.service, {
        url: o.natsUrl,
        subjects: o.natsSubjects,
        modelName: o.modelName,
        routingGroup: o.routingGroup,
        blockSize: o.blockSize,
        logger,
      });
    }
    if (o.serveIndexer && o.natsUrl !== undefined) {
      const [ns = 'dynamo', component = 'backend'] = (o.natsSubjects[0] ?? '').split('/');
      queryService = await startIndexerQueryService(() => registry.partition(o.modelName, o.routingGroup), {
        url: o.natsUrl,
        subject: o.indexerQuerySubject ?? defaultQuerySubject(ns, component),
        logger,
      });
    }
    app.service.ingestor.drainNow();

    if (o.minInitialWorkers > 0) {
      logger.info({ min_initial_workers: o.minInitialWorkers }, 'waiting for workers before serving HTTP');
      while (registry.instanceCount() < o.minInitialWorkers) {
        if (signal?.aborted) {
          throw new StartupError(`shutdown requested before ${o.minInitialWorkers} workers were registered`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const url = await app.server.listen({ host: o.host, port: o.port });
    logger.info({ url }, 'kvindex data plane listening');
    demo?.run();
    if (o.snapshotDir) {
      const dir = o.snapshotDir;
      snapshotTimer = setInterval(() => {
        writeSnapshot(dir, registry).catch((err: Error) =>
          logger.warn({ err: err.message }, 'snapshot failed'),
        );
      }, o.snapshotIntervalSec * 1000);
      snapshotTimer.unref();
    }
    return { app, url, demo, logger, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** What `./dev start` prints for the demo: where to look and two queries that return real scores. */
export function demoBanner(url: string, demo: DemoFleet): string {
  const base = url.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
  const tokens = Array.from({ length: 64 }, (_, i) => i).join(',');
  const model = demo.options.modelName;
  return [
    '',
    `kvindex demo: ${demo.publishers.length} simulated vLLM workers publish KV events over ZMQ on loopback,`,
    'replaying a Mooncake conversation-trace slice, routed by kvindex best match.',
    '',
    `  dashboard:  ${base}/`,
    '',
    '  the prompt prefix every conversation in the trace shares (4 blocks):',
    `  curl -s ${base}/query -H 'content-type: application/json' -d '{"model_name":"${model}","token_ids":[${tokens}]}'`,
    '',
    "  the first 2,048 tokens of the trace's first conversation (128 blocks):",
    `  curl -s ${base}/query -H 'content-type: application/json' -d "{\\"model_name\\":\\"${model}\\",\\"token_ids\\":[$(seq -s, 0 2047)]}"`,
    '',
  ].join('\n');
}
