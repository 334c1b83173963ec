import type { FastifyRequest } from 'fastify';
import type { RouterService } from '../service/router-service.ts';
import { HttpError, readJsonRequest } from './json-body.ts';
import type { StructSpec } from './serde-struct.ts';
import { QUERY_BODY_LIMIT, type RouteContext, sendJson } from './server.ts';

/**
 * KV-aware routing (Dynamo's find_best_worker, free, mark_prefill_completed): `POST /v1/route`
 * answers which (worker, dp_rank) should serve a prompt, `POST /v1/free` and
 * `POST /v1/mark_prefill_completed` report the request's progress. Errors are JSON
 * `{"error": ..., "field"?: ...}` as on the other /v1 routes.
 */

export const ROUTE: StructSpec = {
  name: 'RouteRequest',
  fields: [
    { name: 'model_name', kind: 'string' },
    { name: 'routing_group', kind: 'string', defaulted: true },
    { name: 'request_id', kind: 'string' },
    { name: 'token_ids', kind: 'u32[]', optional: true },
    // Signed like /query_by_hash's, or unsigned: both name the same 64 bits.
    { name: 'block_hashes', kind: 'any', optional: true },
    { name: 'lora_name', kind: 'string', optional: true },
    { name: 'allowed_worker_ids', kind: 'any', optional: true },
    { name: 'expected_output_tokens', kind: 'u32', optional: true },
  ],
};

export const REQUEST_ID: StructSpec = {
  name: 'RequestIdRequest',
  fields: [{ name: 'request_id', kind: 'string' }],
};

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

function jsonError(status: number, error: string, field?: string): HttpError {
  return new HttpError(
    status,
    JSON.stringify(field ? { error, field } : { error }),
    'application/json',
    field,
  );
}

function readBody(req: FastifyRequest, spec: StructSpec): Record<string, unknown> {
  try {
    return readJsonRequest(req.headers['content-type'], req.body, spec);
  } catch (err) {
    if (err instanceof HttpError) throw jsonError(err.status, err.body, err.field);
    throw err;
  }
}

function integerArray(value: unknown, field: string, min: bigint, max: bigint): bigint[] {
  if (!Array.isArray(value)) throw jsonError(422, `${field} must be an array of integers`, field);
  return value.map((v, i) => {
    const n =
      typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
    if (n === undefined || n < min || n > max)
      throw jsonError(422, `${field}[${i}] must be an integer in [${min}, ${max}]`, field);
    return n;
  });
}

export function mountRoutingRoutes(router: RouterService): (ctx: RouteContext) => void {
  return (ctx) => {
    ctx.route(
      'POST',
      '/v1/route',
      async (req, reply) => {
        const r = readBody(req, ROUTE);
        const model = r.model_name as string;
        ctx.setModel(req, model);
        const tokens = r.token_ids as Uint32Array | undefined;
        let blockHashes: BigUint64Array | undefined;
        if (r.block_hashes !== undefined) {
          const signed = integerArray(r.block_hashes, 'block_hashes', I64_MIN, U64_MAX);
          blockHashes = BigUint64Array.from(signed, (h) => BigInt.asUintN(64, h));
        }
        if ((tokens === undefined) === (blockHashes === undefined))
          throw jsonError(422, 'exactly one of token_ids and block_hashes is required', 'token_ids');
        const allowed =
          r.allowed_worker_ids === undefined
            ? undefined
            : integerArray(r.allowed_worker_ids, 'allowed_worker_ids', 0n, U64_MAX);
        const result = await router.route({
          modelName: model,
          routingGroup: (r.routing_group as string | undefined) ?? 'default',
          requestId: r.request_id as string,
          tokenIds: tokens,
          blockHashes,
          loraName: r.lora_name as string | undefined,
          allowedWorkerIds: allowed,
          expectedOutputTokens: r.expected_output_tokens as number | undefined,
        });
        return sendJson(reply, 200, result);
      },
      { bodyLimit: QUERY_BODY_LIMIT },
    );

    ctx.route('POST', '/v1/free', (req, reply) => {
      const id = readBody(req, REQUEST_ID).request_id as string;
      if (!router.free(id)) return sendJson(reply, 404, { error: `request ${id} is not active` });
      return sendJson(reply, 200, { status: 'ok' });
    });

    ctx.route('POST', '/v1/mark_prefill_completed', (req, reply) => {
      const id = readBody(req, REQUEST_ID).request_id as string;
      if (!router.markPrefillCompleted(id))
        return sendJson(reply, 404, { error: `request ${id} is not active or already past prefill` });
      return sendJson(reply, 200, { status: 'ok' });
    });
  };
}
