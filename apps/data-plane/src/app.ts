import { defaultRouterConfig, type RouterConfig } from '@kvindex/router';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AccessLog } from './http/access-log.ts';
import { mountDynamoRoutes } from './http/routes-dynamo.ts';
import { mountOperatorRoutes } from './http/routes-operator.ts';
import { mountRoutingRoutes } from './http/routes-routing.ts';
import { buildServer } from './http/server.ts';
import type { IndexFactory, ListenerFactory } from './service/ports.ts';
import { type RemoteOverlaps, RouterService } from './service/router-service.ts';
import { createService, type Service } from './service/service.ts';

export interface AppOptions {
  indexFactory: IndexFactory;
  listenerFactory: ListenerFactory;
  accessLog?: AccessLog | undefined;
  traceIdHeader?: string;
  logger?: Logger | undefined;
  ingestSliceMs?: number;
  /** KV-aware routing (/v1/route); Dynamo's defaults when absent. */
  router?: RouterConfig;
  /** `--use-remote-indexer`: overlaps from another indexer instead of the local index. */
  routerRemote?: RemoteOverlaps | undefined;
}

export interface App {
  service: Service;
  server: FastifyInstance;
  router: RouterService;
}

/** The service and its HTTP server, not yet listening. */
export function createApp(options: AppOptions): App {
  const service = createService({
    indexFactory: options.indexFactory,
    listenerFactory: options.listenerFactory,
    ...(options.ingestSliceMs !== undefined ? { ingestSliceMs: options.ingestSliceMs } : {}),
  });
  const router = new RouterService(service.registry, {
    config: options.router ?? defaultRouterConfig(),
    remote: options.routerRemote,
  });
  const server = buildServer(
    service,
    {
      accessLog: options.accessLog,
      traceIdHeader: options.traceIdHeader ?? 'x-trace-id',
      logger: options.logger,
    },
    [mountDynamoRoutes, mountOperatorRoutes, mountRoutingRoutes(router)],
  );
  server.addHook('onClose', async () => {
    router.close();
    await service.close();
  });
  return { service, server, router };
}
