import { computeBlockHashes, computeSequenceHashes, parseJsonExact } from '@kvindex/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { noEventsListenerFactory } from '../service/router-service.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';

const JSON_CT = { 'content-type': 'application/json' };
// Above 2^63: must survive JSON exactly, both ways.
const BIG = 9_223_372_036_854_775_813n;
const T8 = Array.from({ length: 8 }, (_, i) => i + 1);

describe('/v1/route, /v1/free, /v1/mark_prefill_completed', () => {
  let app: App;

  beforeEach(() => {
    app = createApp({ indexFactory: kvIndexFactory, listenerFactory: noEventsListenerFactory });
    app.service.registry.start();
  });
  afterEach(async () => {
    await app.server.close();
  });

  const post = (url: string, body: string, headers: Record<string, string> = JSON_CT) =>
    app.server.inject({ method: 'POST', url, headers, payload: body });
  const register = (id: bigint) =>
    post(
      '/register',
      `{"instance_id":${id},"endpoint":"tcp://127.0.0.1:5557","model_name":"m","block_size":4}`,
    );

  function storeOn(worker: bigint, tokens: number[]) {
    const local = computeBlockHashes(Uint32Array.from(tokens), 4);
    const seq = computeSequenceHashes(local);
    const p = app.service.registry.partition('m', 'default')!;
    app.service.registry.applyEvent(p, {
      worker_id: worker,
      storage_tier: 'device',
      event: {
        event_id: 1n,
        dp_rank: 0,
        data: {
          stored: {
            parent_hash: null,
            blocks: Array.from(local, (h, i) => ({ block_hash: seq[i]!, tokens_hash: h })),
          },
        },
      },
    });
  }

  it('routes by token ids to the cached worker, u64 ids exact, then frees', async () => {
    expect((await register(1n)).statusCode).toBe(201);
    expect((await register(BIG)).statusCode).toBe(201);
    storeOn(BIG, T8);
    const res = await post('/v1/route', JSON.stringify({ model_name: 'm', request_id: 'r1', token_ids: T8 }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`"worker_id":${BIG}`);
    const body = parseJsonExact(res.body) as Record<string, unknown>;
    expect(body).toMatchObject({ worker_id: BIG, dp_rank: 0, overlap_blocks: 2 });
    // No prefill left for a fully cached prompt; free ends it.
    expect((await post('/v1/mark_prefill_completed', '{"request_id":"r1"}')).statusCode).toBe(404);
    const freed = await post('/v1/free', '{"request_id":"r1"}');
    expect(freed.statusCode).toBe(200);
    expect(JSON.parse(freed.body)).toEqual({ status: 'ok' });
    const again = await post('/v1/free', '{"request_id":"r1"}');
    expect(again.statusCode).toBe(404);
    expect(JSON.parse(again.body).error).toMatch(/r1/);
  });

  it('accepts signed or unsigned block hashes and allowed_worker_ids', async () => {
    await register(1n);
    await register(2n);
    storeOn(2n, T8);
    const local = computeBlockHashes(Uint32Array.from(T8), 4);
    const signed = Array.from(local, (h) => BigInt.asIntN(64, h));
    const byHash = await post(
      '/v1/route',
      `{"model_name":"m","request_id":"h","block_hashes":[${signed.join(',')}]}`,
    );
    expect(byHash.statusCode).toBe(200);
    expect(parseJsonExact(byHash.body)).toMatchObject({ worker_id: 2, overlap_blocks: 2 });
    const allowed = await post(
      '/v1/route',
      `{"model_name":"m","request_id":"h2","block_hashes":[${local.join(',')}],"allowed_worker_ids":[1]}`,
    );
    expect(parseJsonExact(allowed.body)).toMatchObject({ worker_id: 1, overlap_blocks: 0 });
  });

  it('mark_prefill_completed ends prefill once', async () => {
    await register(1n);
    await post('/v1/route', JSON.stringify({ model_name: 'm', request_id: 'p', token_ids: T8 }));
    expect((await post('/v1/mark_prefill_completed', '{"request_id":"p"}')).statusCode).toBe(200);
    expect((await post('/v1/mark_prefill_completed', '{"request_id":"p"}')).statusCode).toBe(404);
  });

  it.each([
    ['{"model_name":"m","request_id":"x"}', 422, /exactly one of token_ids and block_hashes/],
    ['{"model_name":"m","request_id":"x","token_ids":[1],"block_hashes":[1]}', 422, /exactly one/],
    ['{"model_name":"m","token_ids":[1]}', 422, /missing field `request_id`/],
    ['{"model_name":"m","request_id":"x","token_ids":[-1]}', 422, /token_ids/],
    ['{"model_name":"m","request_id":"x","block_hashes":["a"]}', 422, /block_hashes\[0\]/],
    [
      '{"model_name":"m","request_id":"x","token_ids":[1],"allowed_worker_ids":[-3]}',
      422,
      /allowed_worker_ids/,
    ],
    ['{"model_name":', 400, /parse/],
    ['{"model_name":"nope","request_id":"x","token_ids":[1]}', 404, /no indexer for model=nope/],
  ])('answers %s with %i and a JSON error', async (body, status, message) => {
    await register(1n);
    const res = await post('/v1/route', body);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.body).error).toMatch(message);
  });

  it('refuses a non-JSON content type with 415 in JSON', async () => {
    const res = await post('/v1/free', '{"request_id":"x"}', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(JSON.parse(res.body).error).toMatch(/Content-Type/);
  });

  it('answers a duplicate in-flight request id with 409', async () => {
    await register(1n);
    const body = JSON.stringify({ model_name: 'm', request_id: 'd', token_ids: T8 });
    expect((await post('/v1/route', body)).statusCode).toBe(200);
    const dup = await post('/v1/route', body);
    expect(dup.statusCode).toBe(409);
    expect(JSON.parse(dup.body).error).toMatch(/already active/);
  });
});
