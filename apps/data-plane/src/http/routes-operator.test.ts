import { computeBlockHashes, parseJsonExact } from '@kvindex/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { manualListeners } from '../test-support/manual-listener.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';

const JSON_CT = { 'content-type': 'application/json' };

describe('operator routes', () => {
  let app: App;
  let listeners: ReturnType<typeof manualListeners>;

  beforeEach(() => {
    listeners = manualListeners();
    app = createApp({ indexFactory: kvIndexFactory, listenerFactory: listeners.factory });
    app.service.registry.start();
  });
  afterEach(async () => {
    await app.server.close();
  });

  const put = (model: string, body: unknown) =>
    app.server.inject({
      method: 'PUT',
      url: `/v1/models/${model}/workers`,
      headers: JSON_CT,
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const getJson = async (url: string) => {
    const r = await app.server.inject({ method: 'GET', url });
    return { status: r.statusCode, body: parseJsonExact(r.body) as Record<string, unknown> };
  };
  const open = () =>
    listeners.all
      .filter((l) => !l.closed)
      .map((l) => `${l.spec.instanceId}:${l.spec.dpRank}@${l.spec.endpoint}`)
      .sort();

  /** One ModelWorkerSet entry (core's wire shape). */
  const w = (
    id: number,
    generation: string,
    endpoint: string,
    extra: { dp_rank?: number; replay_endpoint?: string; routing_group?: string; block_size?: number } = {},
  ) => ({ instance_id: id, generation, endpoint, block_size: 4, dp_rank: 0, ...extra });

  it('PUT /v1/models/{model}/workers converges idempotently and clears a worker whose generation changed', async () => {
    const desired = {
      workers: [
        w(1, 'a', 'tcp://127.0.0.1:7001'),
        w(1, 'a', 'tcp://127.0.0.1:7002', { dp_rank: 1 }),
        w(2, 'a', 'tcp://127.0.0.1:7003', { replay_endpoint: 'tcp://127.0.0.1:7103' }),
      ],
      peers: [],
    };
    const first = await put('m', desired);
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ added: [1, 2], removed: [], restarted: [] });
    expect(open()).toEqual([
      '1:0@tcp://127.0.0.1:7001',
      '1:1@tcp://127.0.0.1:7002',
      '2:0@tcp://127.0.0.1:7003',
    ]);
    expect(listeners.find(2n).spec.replayEndpoint).toBe('tcp://127.0.0.1:7103');

    const again = await put('m', desired);
    expect(JSON.parse(again.body)).toMatchObject({ added: [], unchanged: [1, 2] });
    expect(listeners.all).toHaveLength(3);

    // Worker 2 holds blocks; a new generation means a new engine process: its blocks go.
    const tokens = computeBlockHashes([1, 2, 3, 4], 4);
    listeners.find(2n).push([
      {
        worker_id: 2n,
        storage_tier: 'device',
        event: {
          event_id: 0n,
          dp_rank: 0,
          data: { stored: { parent_hash: null, blocks: [{ block_hash: 9n, tokens_hash: tokens[0]! }] } },
        },
      },
    ]);
    await app.service.ingestor.idle();
    const q = () =>
      app.server.inject({
        method: 'POST',
        url: '/query',
        headers: JSON_CT,
        payload: '{"token_ids":[1,2,3,4],"model_name":"m"}',
      });
    expect(JSON.parse((await q()).body).scores).toEqual({ '2': { '0': 4 } });
    const restarted = await put('m', {
      workers: [
        w(1, 'a', 'tcp://127.0.0.1:7001'),
        w(2, 'b', 'tcp://127.0.0.1:7003'),
        w(3, 'a', 'tcp://127.0.0.1:7004'),
      ],
      peers: [],
    });
    expect(JSON.parse(restarted.body)).toMatchObject({ added: [3], restarted: [2], updated: [1] });
    expect(JSON.parse((await q()).body).scores).toEqual({});
    expect(open()).toEqual([
      '1:0@tcp://127.0.0.1:7001',
      '2:0@tcp://127.0.0.1:7003',
      '3:0@tcp://127.0.0.1:7004',
    ]);

    const empty = await put('m', { workers: [], peers: [] });
    expect(JSON.parse(empty.body)).toMatchObject({ removed: [1, 2, 3] });
    expect(open()).toEqual([]);
    expect((await q()).statusCode).toBe(404);
  });

  it('PUT applies per routing group: a group absent from the set loses its workers; peers are recorded', async () => {
    const first = await put('m', {
      generation: 'set-1',
      workers: [
        w(1, 'a', 'tcp://127.0.0.1:7001', { routing_group: 'g1' }),
        w(2, 'a', 'tcp://127.0.0.1:7002', { routing_group: 'g2', block_size: 8 }),
      ],
      peers: ['http://127.0.0.2:8090'],
    });
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({
      generation: 'set-1',
      added: [1, 2],
      peers: ['http://127.0.0.2:8090'],
    });
    const groups = async () =>
      ((await getJson('/v1/models')).body.models as Array<{ routing_group: string; block_size: number }>)
        .map((m) => `${m.routing_group}/${m.block_size}`)
        .sort();
    expect(await groups()).toEqual(['g1/4', 'g2/8']);
    expect(app.service.registry.peers()).toEqual(['http://127.0.0.2:8090']);

    // g2 leaves the set and worker 1 moves from g1 to the default group.
    const second = await put('m', {
      workers: [w(1, 'a', 'tcp://127.0.0.1:7001')],
      peers: ['http://127.0.0.3:8090'],
    });
    expect(second.statusCode).toBe(200);
    expect(JSON.parse(second.body)).toMatchObject({ added: [1], removed: [1, 2] });
    expect(await groups()).toEqual(['default/4']);
    expect(open()).toEqual(['1:0@tcp://127.0.0.1:7001']);
    expect(app.service.registry.peers()).toEqual(['http://127.0.0.3:8090']);
  });

  it('PUT validates and names the field, changing nothing', async () => {
    const cases: Array<[unknown, number, string | undefined]> = [
      [{ peers: [] }, 422, 'workers'],
      [
        { workers: [{ generation: 'a', endpoint: 'tcp://h:1', block_size: 4 }] },
        422,
        'workers[0].instance_id',
      ],
      [{ workers: [{ instance_id: 1, generation: 'a', block_size: 4 }] }, 422, 'workers[0].endpoint'],
      [{ workers: [{ instance_id: 1, endpoint: 'tcp://h:1', block_size: 4 }] }, 422, 'workers[0].generation'],
      [{ workers: [w(1, 'a', 'tcp://h:1', { block_size: 0 })] }, 422, 'workers[0].block_size'],
      [{ workers: [w(1, 'a', 'tcp://h:1'), w(1, 'a', 'tcp://h:2')] }, 422, 'workers[1]'],
      [{ workers: [w(1, 'a', 'tcp://h:1')], peers: [''] }, 422, 'peers[0]'],
      [{ workers: [w(1, 'a', 'http://h:1')] }, 400, 'workers[0].endpoint'],
      [{ workers: [w(1, 'a', 'tcp://h:1', { replay_endpoint: 'h:2' })] }, 400, 'workers[0].replay_endpoint'],
      [
        { workers: [w(1, 'a', 'tcp://h:1'), w(2, 'a', 'tcp://h:2', { block_size: 8 })] },
        422,
        'workers[1].block_size',
      ],
      [
        { workers: [w(1, 'a', 'tcp://h:1'), w(1, 'b', 'tcp://h:2', { dp_rank: 1 })] },
        422,
        'workers[1].generation',
      ],
      [
        { workers: [w(1, 'a', 'tcp://h:1'), w(1, 'a', 'tcp://h:2', { dp_rank: 1, routing_group: 'x' })] },
        422,
        'workers[1].routing_group',
      ],
      ['{"workers": [', 400, undefined],
    ];
    for (const [body, status, field] of cases) {
      const r = await put('m', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(status);
      const parsed = JSON.parse(r.body) as { error: string; field?: string };
      expect(parsed.error).toBeTruthy();
      expect(parsed.field, JSON.stringify(body)).toBe(field);
      if (field) expect(parsed.error).toContain(field);
    }
    const text = await app.server.inject({
      method: 'PUT',
      url: '/v1/models/m/workers',
      headers: { 'content-type': 'text/plain' },
      payload: '{}',
    });
    expect(text.statusCode).toBe(415);
    expect(listeners.all).toHaveLength(0);
    // An instance registered for another model is a conflict.
    await app.server.inject({
      method: 'POST',
      url: '/register',
      headers: JSON_CT,
      payload: '{"instance_id": 5, "endpoint": "tcp://127.0.0.1:1", "model_name": "other", "block_size": 4}',
    });
    const conflict = await put('m', { workers: [w(6, 'a', 'tcp://h:2'), w(5, 'a', 'tcp://h:1')] });
    expect(conflict.statusCode).toBe(409);
    expect(JSON.parse(conflict.body).field).toBe('workers[1].instance_id');
    expect(open()).toEqual(['5:0@tcp://127.0.0.1:1']);
    // A surviving engine process cannot change its block size.
    await put('m', { workers: [w(7, 'a', 'tcp://h:7')] });
    const resized = await put('m', { workers: [w(7, 'a', 'tcp://h:7', { block_size: 8 })] });
    expect(resized.statusCode).toBe(409);
    expect(JSON.parse(resized.body).field).toBe('workers[0].block_size');
    const restartedResized = await put('m', { workers: [w(7, 'b', 'tcp://h:7', { block_size: 8 })] });
    expect(JSON.parse(restartedResized.body)).toMatchObject({ restarted: [7] });
  });

  it('GET /v1/models reports workers, blocks per tier and listener health', async () => {
    await put('m', { workers: [w(1, 'a', 'tcp://127.0.0.1:7001')] });
    const local = computeBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4);
    const l = listeners.find(1n);
    l.counters.gaps = 2;
    l.counters.replays = 1;
    l.push([
      {
        worker_id: 1n,
        storage_tier: 'device',
        event: {
          event_id: 0n,
          dp_rank: 0,
          data: { stored: { parent_hash: null, blocks: [{ block_hash: 1n, tokens_hash: local[0]! }] } },
        },
      },
      {
        worker_id: 1n,
        storage_tier: 'host_pinned',
        event: {
          event_id: 0n,
          dp_rank: 0,
          data: {
            stored: {
              parent_hash: null,
              blocks: [
                { block_hash: 1n, tokens_hash: local[0]! },
                { block_hash: 2n, tokens_hash: local[1]! },
              ],
            },
          },
        },
      },
    ]);
    await app.service.ingestor.idle();
    const { body } = await getJson('/v1/models');
    const [m] = body.models as Array<Record<string, unknown>>;
    expect(m).toMatchObject({
      model_name: 'm',
      routing_group: 'default',
      block_size: 4,
      instances: 1,
      listeners: { active: 1, pending: 0, paused: 0, failed: 0 },
      blocks: { device: 1, host_pinned: 2, disk: 0, external: 0 },
      events_applied: 2,
      gaps: 2,
      replays: 1,
    });
    const q = await app.server.inject({
      method: 'POST',
      url: '/query',
      headers: JSON_CT,
      payload: '{"token_ids":[1,2,3,4,5,6,7,8],"model_name":"m"}',
    });
    expect(JSON.parse(q.body).instances['1']).toEqual({
      longest_matched: 8,
      gpu: 4,
      dp: { '0': 4 },
      cpu: 8,
      disk: 8,
    });
  });

  it('GET /readyz waits for listeners to catch up, and counts failures as visible', async () => {
    expect((await getJson('/readyz')).status).toBe(200);
    await put('m', { workers: [w(1, 'a', 'tcp://127.0.0.1:7001')] });
    const l = listeners.find(1n);
    l.counters.caughtUp = false;
    l.state = 'pending';
    const waiting = await getJson('/readyz');
    expect(waiting.status).toBe(503);
    expect(waiting.body.waiting).toEqual([
      { instance_id: 1, dp_rank: 0, status: 'pending', reason: 'connecting' },
    ]);
    l.state = 'failed';
    l.error = 'connection refused';
    expect((await getJson('/readyz')).status).toBe(200);
    const workers = await app.server.inject({ method: 'GET', url: '/workers' });
    expect(JSON.parse(workers.body)[0]).toMatchObject({
      status: 'failed',
      listeners: { '0': { status: 'failed', last_error: 'connection refused' } },
    });
  });

  it('serves an OpenAPI document covering every route, and the dashboard', async () => {
    const { body } = await getJson('/openapi.json');
    const paths = Object.keys(body.paths as object);
    for (const p of [
      '/register',
      '/unregister',
      '/workers',
      '/query',
      '/query_by_hash',
      '/dump',
      '/peers',
      '/metrics',
      '/v1/models',
      '/v1/models/{model}/workers',
      '/v1/route',
      '/v1/free',
      '/v1/mark_prefill_completed',
      '/readyz',
    ]) {
      expect(paths).toContain(p);
    }
    const page = await app.server.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('dashboard.js');
  });
});
