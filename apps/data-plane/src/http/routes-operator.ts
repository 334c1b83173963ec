import { readFileSync } from 'node:fs';
import { DecodeError, modelWorkerSetFromValue, STORAGE_TIERS } from '@kvindex/core';
import type { FastifyRequest } from 'fastify';
import { applyModelWorkerSet, DesiredSetError } from '../service/desired-workers.ts';
import { RegistryError } from '../service/registry.ts';
import { HttpError, isJsonContentType, parseBody } from './json-body.ts';
import { openApiDocument } from './openapi.ts';
import { type RouteContext, sendJson, sendPlainJson } from './server.ts';

/**
 * kvindex's own routes: /v1/models (per-model stats), PUT /v1/models/{model}/workers (desired
 * worker set), /v1/stats (query rate and recent prompts), /readyz, /openapi.json and the
 * dashboard. Errors here are JSON `{"error": ..., "field"?: ...}` with Dynamo's status codes.
 */

/** How long an unreachable engine's listener may stay pending before /readyz stops waiting for it. */
export const READY_GRACE_MS = 10_000;

const PUBLIC_DIR = new URL('../../public/', import.meta.url);

function jsonError(status: number, error: string, field?: string): HttpError {
  return new HttpError(
    status,
    JSON.stringify(field ? { error, field } : { error }),
    'application/json',
    field,
  );
}

/** Our routes' body reader: Dynamo's status codes, JSON error bodies. */
function readBody(req: FastifyRequest): Record<string, unknown> {
  if (!isJsonContentType(req.headers['content-type'])) {
    throw jsonError(415, 'Expected request with `Content-Type: application/json`');
  }
  let value: unknown;
  try {
    value = parseBody(req.body instanceof Uint8Array ? req.body : new Uint8Array(0)).value;
  } catch (err) {
    if (err instanceof HttpError) throw jsonError(400, err.body);
    throw err;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw jsonError(422, 'expected a JSON object');
  return value as Record<string, unknown>;
}

export function modelsSummary(ctx: RouteContext) {
  const { registry } = ctx.service;
  const listeners = registry.listeners();
  return registry.partitions().map((p) => {
    const mine = listeners.filter((l) => l.partition === p);
    const blocks = Object.fromEntries(STORAGE_TIERS.map((t) => [t, 0])) as Record<string, number>;
    const perWorker = p.index.workerBlocks();
    for (const w of perWorker) for (const t of STORAGE_TIERS) blocks[t]! += w.blocks[t];
    const status = { pending: 0, active: 0, paused: 0, failed: 0 };
    let lag: number | undefined;
    let gaps = 0;
    let replays = 0;
    let decodeFailures = 0;
    for (const l of mine) {
      status[l.status]++;
      gaps += l.stats.gaps;
      replays += l.stats.replays;
      decodeFailures += l.stats.decodeErrors;
      if (l.stats.lagSeconds !== undefined) lag = Math.max(lag ?? 0, l.stats.lagSeconds);
    }
    const workers = mine.map((l) => {
      const held = perWorker.find((w) => w.workerId === l.instanceId && w.dpRank === l.dpRank);
      return {
        instance_id: l.instanceId,
        dp_rank: l.dpRank,
        endpoint: l.endpoint,
        status: l.status,
        ...(l.lastError !== undefined && l.status === 'failed' ? { last_error: l.lastError } : {}),
        blocks: held?.blocks ?? { device: 0, host_pinned: 0, disk: 0, external: 0 },
        events: l.stats.events,
        gaps: l.stats.gaps,
        replays: l.stats.replays,
        decode_failures: l.stats.decodeErrors,
        dropped: l.stats.dropped,
        lag_seconds: l.stats.lagSeconds ?? null,
      };
    });
    return {
      model_name: p.modelName,
      routing_group: p.routingGroup,
      block_size: p.blockSize,
      instances: new Set(mine.map((l) => l.instanceId)).size,
      listeners: status,
      blocks,
      events_per_second: Math.round(ctx.service.eventRate(p) * 10) / 10,
      events_applied: p.eventsApplied,
      events_failed: p.eventsFailed,
      lag_seconds: lag ?? null,
      gaps,
      replays,
      decode_failures: decodeFailures,
      workers,
      sources: p.sources.map((src) => {
        const st = src.stats();
        return {
          kind: src.kind,
          name: src.name,
          state: src.state(),
          events: st.events,
          gaps: st.gaps,
          dropped: st.dropped,
          ...(st.lastError !== undefined ? { last_error: st.lastError } : {}),
        };
      }),
    };
  });
}

export function readiness(ctx: RouteContext, now = Date.now()) {
  const { registry } = ctx.service;
  const waiting: Array<{ instance_id: bigint; dp_rank: number; status: string; reason: string }> = [];
  const unreachable: Array<{ instance_id: bigint; dp_rank: number }> = [];
  for (const l of registry.listeners()) {
    if (l.status === 'failed' || l.stats.caughtUp) continue;
    if (l.status === 'pending' && now - l.since > READY_GRACE_MS) {
      unreachable.push({ instance_id: l.instanceId, dp_rank: l.dpRank });
      continue;
    }
    waiting.push({
      instance_id: l.instanceId,
      dp_rank: l.dpRank,
      status: l.status,
      reason: l.status === 'pending' ? 'connecting' : 'catching up',
    });
  }
  const ready = registry.isStarted && waiting.length === 0;
  return { ready, started: registry.isStarted, waiting, unreachable };
}

export function mountOperatorRoutes(ctx: RouteContext): void {
  const { service } = ctx;
  const { registry } = service;

  ctx.route('GET', '/v1/models', (_req, reply) => sendJson(reply, 200, { models: modelsSummary(ctx) }));

  ctx.route('PUT', '/v1/models/:model/workers', (req, reply) => {
    const model = (req.params as { model: string }).model;
    ctx.setModel(req, model);
    const body = readBody(req);
    try {
      const set = modelWorkerSetFromValue(body);
      return sendJson(reply, 200, applyModelWorkerSet(registry, model, set));
    } catch (err) {
      if (err instanceof DecodeError) throw jsonError(422, err.message, err.field || undefined);
      if (err instanceof DesiredSetError) throw jsonError(err.status, err.message, err.field);
      if (err instanceof RegistryError) throw jsonError(err.status, err.message);
      throw err;
    }
  });

  // Polled by the dashboard while queries run: 12 prompts of up to 4k tokens, strings and numbers
  // only, so the native serializer (the exact one took milliseconds of the query thread).
  ctx.route('GET', '/v1/stats', (_req, reply) =>
    sendPlainJson(reply, 200, {
      queries: service.queries.summary(),
      recent_queries: service.queries.recent(),
      ingest: { queue_events: service.ingestor.depth, applied: service.ingestor.applied },
      uptime_seconds: Math.round(process.uptime()),
    }),
  );

  ctx.route('GET', '/readyz', (_req, reply) => {
    const r = readiness(ctx);
    return sendJson(reply, r.ready ? 200 : 503, r);
  });

  ctx.route('GET', '/openapi.json', (_req, reply) => sendJson(reply, 200, openApiDocument()));

  const assets: Record<string, string> = {
    '/': 'index.html',
    '/dashboard.js': 'dashboard.js',
    '/dashboard.css': 'dashboard.css',
  };
  const types: Record<string, string> = {
    html: 'text/html; charset=utf-8',
    js: 'text/javascript; charset=utf-8',
    css: 'text/css; charset=utf-8',
  };
  for (const [url, file] of Object.entries(assets)) {
    ctx.route('GET', url, (_req, reply) => {
      // Read per request: small files, and edits show up without a restart.
      const body = readFileSync(new URL(file, PUBLIC_DIR));
      return reply
        .code(200)
        .header('content-type', types[file.split('.').pop()!]!)
        .header('cache-control', 'no-cache')
        .send(body);
    });
  }
}
