import { stringifyJsonExact } from '@kvindex/core';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { RegistryError } from '../service/registry.ts';
import type { Service } from '../service/service.ts';
import type { AccessLog } from './access-log.ts';
import { HttpError, isJsonContentType, LENGTH_LIMIT_EXCEEDED } from './json-body.ts';

/**
 * The fastify instance with Dynamo's framework behaviour: JSON bodies read raw and parsed exactly
 * (u64-safe), axum's rejections, 404 with an empty body for unknown paths, 405 with `allow` for a
 * known path under another method, per-route metrics and the access log keyed by route pattern.
 */

export interface ServerOptions {
  accessLog?: AccessLog | undefined;
  traceIdHeader?: string;
  logger?: Logger | undefined;
}

/** axum's default body limit; /query raises it to 8 MiB. */
export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;
export const QUERY_BODY_LIMIT = 8 * 1024 * 1024;

export interface RouteContext {
  service: Service;
  options: ServerOptions;
  /** Declares a route; the pattern is what metrics and the access log report. */
  route(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    handler: (req: FastifyRequest, reply: FastifyReply) => unknown,
    opts?: { bodyLimit?: number; counted?: boolean },
  ): void;
  /** Records the model a request was about, for the access log. */
  setModel(req: FastifyRequest, model: string): void;
}

interface RequestInfo {
  pattern: string;
  counted: boolean;
  model?: string;
}

export function sendJson(reply: FastifyReply, status: number, value: unknown): FastifyReply {
  // A Buffer keeps the content type as set; fastify would append "; charset=utf-8" to a string's,
  // which Dynamo does not send.
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(stringifyJsonExact(value)));
}

/**
 * sendJson with the native serializer, for values built of strings and numbers only (a
 * ScoreResponse: worker ids are already strings). A BigInt would make JSON.stringify throw (a
 * 500), never lose digits; the native serializer is several times faster than the exact one.
 */
export function sendPlainJson(reply: FastifyReply, status: number, value: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify(value)));
}

/** Maps thrown errors to Dynamo's responses; anything unexpected is a 500 with a JSON error. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof HttpError) {
    reply.code(err.status);
    if (err.contentType) reply.type(err.contentType);
    return reply.send(err.body);
  }
  if (err instanceof RegistryError) return sendJson(reply, err.status, { error: err.message });
  reply.log.error({ err }, 'request failed');
  return sendJson(reply, 500, { error: err instanceof Error ? err.message : String(err) });
}

/** Axum's pattern form (`/v1/models/{model}/workers`) of a fastify URL. */
function axumPattern(url: string): string {
  return url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

export function buildServer(
  service: Service,
  options: ServerOptions,
  mount: Array<(ctx: RouteContext) => void>,
): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as unknown as FastifyBaseLogger } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: QUERY_BODY_LIMIT,
    // Fastify answers 404/400 for odd URLs itself; keep its router lenient like axum's.
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 1000 },
    return503OnClosing: true,
  });
  const info = new WeakMap<FastifyRequest, RequestInfo>();
  const methodsByPath = new Map<string, Set<string>>();
  const patterns: Array<{ regex: RegExp; url: string }> = [];

  app.removeAllContentTypeParsers();
  // One parser for everything: JSON bodies are kept as bytes (the exact parser and serde-style
  // errors run in the handler); other content types are not read at all, so the handler answers
  // 415 before any size limit applies, as axum does.
  app.addContentTypeParser('*', (req, payload, done) => {
    if (!isJsonContentType(req.headers['content-type'])) {
      payload.resume();
      done(null, undefined);
      return;
    }
    const limit = req.routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      payload.resume();
      done(new HttpError(413, LENGTH_LIMIT_EXCEEDED, 'text/plain; charset=utf-8'), undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    payload.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        done(new HttpError(413, LENGTH_LIMIT_EXCEEDED, 'text/plain; charset=utf-8'), undefined);
        return;
      }
      chunks.push(chunk);
    });
    payload.on('end', () => {
      // Most bodies arrive in one chunk: no copy then (every off-heap byte allocated per request
      // counts towards V8's external memory and brings the next full GC closer).
      if (!failed) done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    payload.on('error', (err) => {
      if (failed) return;
      failed = true;
      done(err, undefined);
    });
  });

  app.setErrorHandler((err: Error, req, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).type('text/plain; charset=utf-8').send(LENGTH_LIMIT_EXCEEDED);
    }
    if (err instanceof HttpError || err instanceof RegistryError) return sendError(reply, err);
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).type('text/plain; charset=utf-8').send(err.message);
    }
    req.log.error({ err }, 'request failed');
    return sendJson(reply, 500, { error: err.message });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?', 1)[0]!;
    const exact = methodsByPath.get(path);
    const known = exact ? { url: path, methods: exact } : matchPattern(path);
    if (known) {
      info.set(req, { pattern: axumPattern(known.url), counted: true });
      return reply
        .code(405)
        .header('allow', [...known.methods].join(','))
        .send();
    }
    return reply.code(404).send();
  });

  function matchPattern(path: string): { url: string; methods: Set<string> } | undefined {
    for (const p of patterns)
      if (p.regex.test(path)) return { url: p.url, methods: methodsByPath.get(p.url)! };
    return undefined;
  }

  app.addHook('onResponse', async (req, reply) => {
    const ri = info.get(req);
    if (!ri) return;
    const ms = reply.elapsedTime;
    if (ri.counted) service.metrics.observeRequest(ri.pattern, req.method, reply.statusCode, ms / 1000);
    if (ri.counted && options.accessLog) {
      const header = req.headers[options.traceIdHeader ?? 'x-trace-id'];
      const traceId = Array.isArray(header) ? header[0] : header;
      options.accessLog.write({
        traceId: traceId && /^[\x20-\x7e]*$/.test(traceId) ? traceId : '-',
        method: req.method,
        path: ri.pattern,
        model: ri.model ?? '-',
        status: reply.statusCode,
        durationMs: ms,
        startedAt: Date.now() - ms,
      });
    }
  });

  const ctx: RouteContext = {
    service,
    options,
    route(method, url, handler, opts = {}) {
      let methods = methodsByPath.get(url);
      if (!methods) {
        methods = new Set();
        methodsByPath.set(url, methods);
        if (url.includes(':')) {
          const source = url.replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '[^/]+');
          patterns.push({ regex: new RegExp(`^${source}$`), url });
        }
      }
      methods.add(method);
      if (method === 'GET') methods.add('HEAD');
      const pattern = axumPattern(url);
      const counted = opts.counted ?? true;
      app.route({
        method,
        url,
        bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
        handler: async (req, reply) => {
          info.set(req, { pattern, counted });
          try {
            return await handler(req, reply);
          } catch (err) {
            return sendError(reply, err);
          }
        },
      });
    },
    setModel(req, model) {
      const ri = info.get(req);
      if (ri) ri.model = model;
    },
  };
  for (const m of mount) m(ctx);
  return app;
}
