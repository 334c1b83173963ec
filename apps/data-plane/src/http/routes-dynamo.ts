import { computeBlockHashes } from '@kvindex/core';
import { dumpRegistry } from '../service/dump.ts';
import { scoreResponse } from '../service/score-response.ts';
import { readJsonRequest } from './json-body.ts';
import { PlainStructScanner } from './plain-struct-scan.ts';
import type { StructSpec } from './serde-struct.ts';
import { QUERY_BODY_LIMIT, type RouteContext, sendJson, sendPlainJson } from './server.ts';

/**
 * NVIDIA Dynamo 1.6.1's standalone indexer routes, field for field. Request structs list fields
 * in Dynamo's declaration order: serde reports the first missing one in that order.
 */

export const REGISTER: StructSpec = {
  name: 'RegisterRequest',
  fields: [
    { name: 'instance_id', kind: 'u64' },
    { name: 'endpoint', kind: 'string' },
    { name: 'model_name', kind: 'string' },
    { name: 'routing_group', kind: 'string', defaulted: true },
    { name: 'tenant_id', kind: 'string', defaulted: true },
    { name: 'block_size', kind: 'u32' },
    { name: 'dp_rank', kind: 'u32', optional: true },
    { name: 'replay_endpoint', kind: 'string', optional: true },
    { name: 'additional_salt', kind: 'string', optional: true },
    { name: 'additionalsalt', kind: 'string', optional: true },
  ],
};

export const UNREGISTER: StructSpec = {
  name: 'UnregisterRequest',
  fields: [
    { name: 'instance_id', kind: 'u64' },
    { name: 'model_name', kind: 'string' },
    { name: 'routing_group', kind: 'string', optional: true },
    { name: 'tenant_id', kind: 'string', optional: true },
    { name: 'dp_rank', kind: 'u32', optional: true },
  ],
};

export const QUERY: StructSpec = {
  name: 'QueryRequest',
  fields: [
    { name: 'token_ids', kind: 'u32[]' },
    { name: 'model_name', kind: 'string' },
    { name: 'routing_group', kind: 'string', defaulted: true },
    { name: 'tenant_id', kind: 'string', defaulted: true },
    { name: 'lora_name', kind: 'string', optional: true },
    { name: 'cache_salt', kind: 'string', optional: true },
  ],
};

/** /query bodies are 8k token ids: read them straight into a Uint32Array when well formed. */
const QUERY_SCANNER = new PlainStructScanner(QUERY);

export const QUERY_BY_HASH: StructSpec = {
  name: 'QueryByHashRequest',
  fields: [
    { name: 'block_hashes', kind: 'i64[]' },
    { name: 'model_name', kind: 'string' },
    { name: 'routing_group', kind: 'string', defaulted: true },
    { name: 'tenant_id', kind: 'string', defaulted: true },
    { name: 'cache_salt', kind: 'string', optional: true },
  ],
};

export const PEER: StructSpec = { name: 'PeerRequest', fields: [{ name: 'url', kind: 'string' }] };

const DEFAULT_GROUP = 'default';

function noIndexer(model: string, group: string) {
  return { error: `no indexer for model=${model} routing_group=${group}` };
}

export function mountDynamoRoutes(ctx: RouteContext): void {
  const { service } = ctx;
  const { registry } = service;

  ctx.route('GET', '/health', (_req, reply) => reply.code(200).send());

  ctx.route('POST', '/register', (req, reply) => {
    const r = readJsonRequest(req.headers['content-type'], req.body, REGISTER);
    ctx.setModel(req, r.model_name as string);
    registry.register({
      instanceId: r.instance_id as bigint,
      endpoint: r.endpoint as string,
      modelName: r.model_name as string,
      routingGroup: (r.routing_group as string | undefined) ?? DEFAULT_GROUP,
      blockSize: r.block_size as number,
      dpRank: (r.dp_rank as number | undefined) ?? 0,
      replayEndpoint: r.replay_endpoint as string | undefined,
    });
    return sendJson(reply, 201, { status: 'ok' });
  });

  ctx.route('POST', '/unregister', async (req, reply) => {
    const r = readJsonRequest(req.headers['content-type'], req.body, UNREGISTER);
    const model = r.model_name as string;
    ctx.setModel(req, model);
    const id = r.instance_id as bigint;
    const group = r.routing_group as string | undefined;
    const dp = r.dp_rank as number | undefined;
    // Listener sockets close in the background; the index forgets the worker before we answer.
    let closing: Promise<void>;
    if (group === undefined) closing = registry.unregisterInModel(id, model);
    else if (dp === undefined) closing = registry.unregister(id, model, group);
    else closing = registry.unregisterDpRank(id, dp, model, group);
    void closing;
    return sendJson(reply, 200, { status: 'ok' });
  });

  ctx.route('GET', '/workers', (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const model = typeof q.model_name === 'string' ? q.model_name : undefined;
    const group = typeof q.routing_group === 'string' ? q.routing_group : undefined;
    return sendJson(reply, 200, registry.listWorkers(model, group));
  });

  ctx.route(
    'POST',
    '/query',
    (req, reply) => {
      const started = performance.now();
      const r = readJsonRequest(req.headers['content-type'], req.body, QUERY, QUERY_SCANNER);
      const model = r.model_name as string;
      const group = (r.routing_group as string | undefined) ?? DEFAULT_GROUP;
      ctx.setModel(req, model);
      const p = registry.partition(model, group);
      if (!p) return sendJson(reply, 404, noIndexer(model, group));
      const tokens = r.token_ids as Uint32Array;
      const hashes = computeBlockHashes(tokens, p.blockSize, {
        loraName: r.lora_name as string | undefined,
        cacheSalt: r.cache_salt as string | undefined,
      });
      const response = scoreResponse(p.index.findMatches(hashes), p.blockSize);
      recordQuery(ctx, model, group, tokens, response.instances, started);
      return sendPlainJson(reply, 200, response);
    },
    { bodyLimit: QUERY_BODY_LIMIT },
  );

  ctx.route('POST', '/query_by_hash', (req, reply) => {
    const started = performance.now();
    const r = readJsonRequest(req.headers['content-type'], req.body, QUERY_BY_HASH);
    const model = r.model_name as string;
    ctx.setModel(req, model);
    if (r.cache_salt !== undefined) {
      return sendJson(reply, 400, {
        error:
          'cache_salt is not accepted by /query_by_hash; block_hashes must already include the intended cache salt',
      });
    }
    const group = (r.routing_group as string | undefined) ?? DEFAULT_GROUP;
    const p = registry.partition(model, group);
    if (!p) return sendJson(reply, 404, noIndexer(model, group));
    const signed = r.block_hashes as bigint[];
    const hashes = new BigUint64Array(signed.length);
    for (let i = 0; i < signed.length; i++) hashes[i] = BigInt.asUintN(64, signed[i]!);
    const response = scoreResponse(p.index.findMatches(hashes), p.blockSize);
    service.queries.record(performance.now() - started);
    return sendJson(reply, 200, response);
  });

  ctx.route('GET', '/dump', (_req, reply) => sendJson(reply, 200, dumpRegistry(registry)));

  ctx.route('POST', '/register_peer', (req, reply) => {
    const r = readJsonRequest(req.headers['content-type'], req.body, PEER);
    registry.registerPeer(r.url as string);
    return sendJson(reply, 201, { status: 'ok' });
  });

  ctx.route('POST', '/deregister_peer', (req, reply) => {
    const r = readJsonRequest(req.headers['content-type'], req.body, PEER);
    if (!registry.deregisterPeer(r.url as string)) return sendJson(reply, 404, { error: 'peer not found' });
    return sendJson(reply, 200, { status: 'ok' });
  });

  ctx.route('GET', '/peers', (_req, reply) => sendJson(reply, 200, registry.peers()));

  ctx.route('POST', '/reopen_logs', (_req, reply) => {
    try {
      ctx.options.accessLog?.reopen();
    } catch (err) {
      return sendJson(reply, 500, { error: (err as Error).message });
    }
    return sendJson(reply, 200, { status: 'ok' });
  });

  ctx.route(
    'GET',
    '/metrics',
    async (_req, reply) => {
      const text = await service.metrics.registry.metrics();
      return reply.code(200).type('text/plain; version=0.0.4').send(text);
    },
    { counted: false },
  );
}

function recordQuery(
  ctx: RouteContext,
  model: string,
  group: string,
  tokens: Uint32Array,
  instances: Record<string, { longest_matched: number }>,
  started: number,
): void {
  let best: string | undefined;
  let bestTokens = 0;
  for (const [w, s] of Object.entries(instances)) {
    if (s.longest_matched > bestTokens) {
      best = w;
      bestTokens = s.longest_matched;
    }
  }
  ctx.service.queries.record(performance.now() - started);
  ctx.service.queries.remember({
    at: Date.now(),
    model_name: model,
    routing_group: group,
    tokens: tokens.length,
    token_ids: tokens,
    best_worker: best,
    best_tokens: bestTokens,
  });
}
