import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ControllerCliOptions } from './cli/options.ts';
import { Controller } from './controller/controller.ts';
import { controllerMetrics } from './controller/metrics.ts';
import { LeaderElector } from './leader/lease-lock.ts';

// The process: a controller with warm caches on every replica, reconciling only while it holds the
// Lease, and an HTTP server for /metrics, /healthz and /readyz.

export interface RunningController {
  /** http://host:port of /metrics, /healthz, /readyz. */
  url: string;
  controller: Controller;
  isLeader(): boolean;
  /** Releases the Lease, stops reconciling, closes the server. */
  close(): Promise<void>;
  /** Resolves when leadership was lost: the process must exit (client-go's behaviour). */
  lostLeadership: Promise<void>;
}

export async function runController(o: ControllerCliOptions, logger: Logger): Promise<RunningController> {
  const kubeConfig = new KubeConfig();
  if (o.kubeconfig) kubeConfig.loadFromFile(o.kubeconfig);
  else kubeConfig.loadFromDefault();
  const metrics = controllerMetrics();
  const controller = new Controller({
    kubeConfig,
    logger,
    metrics,
    indexerImage: o.indexerImage,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    resyncMs: o.resyncMs,
    workers: o.workers,
    indexerTimeoutMs: o.indexerTimeoutMs,
    watchInferencePools: o.watchInferencePools,
  });
  controller.startInformers();

  let healthy = true;
  let signalLost: () => void = () => {};
  const lostLeadership = new Promise<void>((r) => {
    signalLost = r;
  });
  const lead = () => {
    metrics.leader.set(1);
    controller
      .startWorkers()
      .catch((err: unknown) => logger.error({ err: String(err) }, 'workers failed to start'));
  };
  let elector: LeaderElector | undefined;
  if (o.leaderElect) {
    elector = new LeaderElector({
      client: controller.client,
      namespace: o.leaderElectionNamespace,
      name: o.leaderElectionId,
      identity: o.identity,
      leaseDurationMs: o.leaseDurationMs,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      logger,
      onStartedLeading: lead,
      onStoppedLeading: () => {
        healthy = false;
        metrics.leader.set(0);
        signalLost();
      },
    });
    elector.start();
  } else {
    lead();
  }

  const handler = (metricsToo: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res
        .writeHead(healthy ? 200 : 500, { 'content-type': 'text/plain' })
        .end(healthy ? 'ok' : 'lost leadership');
    } else if (path === '/readyz') {
      const ready = controller.isSynced();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ok' : 'caches not synced');
    } else if (path === '/metrics' && metricsToo) {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  };
  const listen = async (port: number, metricsToo: boolean) => {
    const s = createServer(handler(metricsToo));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, o.metricsHost, resolve);
    });
    return s;
  };
  const server: Server = await listen(o.metricsPort, true);
  const health =
    o.healthPort !== undefined && o.healthPort !== o.metricsPort
      ? await listen(o.healthPort, false)
      : undefined;
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : o.metricsPort;
  const url = `http://${o.metricsHost.includes(':') ? `[${o.metricsHost}]` : o.metricsHost}:${port}`;
  logger.info({ url, identity: o.identity, leaderElect: o.leaderElect }, 'kvindex-controller started');

  return {
    url,
    controller,
    isLeader: () => (elector ? elector.isLeader : true),
    lostLeadership,
    async close() {
      await elector?.release();
      metrics.leader.set(0);
      await controller.stop();
      await new Promise<void>((r) => server.close(() => r()));
      if (health) await new Promise<void>((r) => health.close(() => r()));
    },
  };
}
