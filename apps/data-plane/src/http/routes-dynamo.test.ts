import { computeBlockHashes, type RouterEvent } from '@kvindex/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { manualListeners } from '../test-support/manual-listener.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';

// Exchanges recorded from Dynamo 1.6.1 (docs/reference/dynamo-1.6.1/http-exchanges.md); the
// numbers in test names are the exchange numbers there.

const JSON_CT = { 'content-type': 'application/json' };

function stored(
  worker: bigint,
  dp: number,
  tokens: number[],
  blockHashes: bigint[],
  parent: bigint | null = null,
): RouterEvent {
  const local = computeBlockHashes(tokens, 4);
  return {
    worker_id: worker,
    storage_tier: 'device',
    event: {
      event_id: 0n,
      dp_rank: dp,
      data: {
        stored: {
          parent_hash: parent,
          blocks: blockHashes.map((h, i) => ({ block_hash: h, tokens_hash: local[i]! })),
        },
      },
    },
  };
}

const T16 = Array.from({ length: 16 }, (_, i) => i + 1);

describe('Dynamo 1.6.1 routes', () => {
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

  const post = (url: string, body: string, headers: Record<string, string> = JSON_CT) =>
    app.server.inject({ method: 'POST', url, headers, payload: body });
  const get = (url: string) => app.server.inject({ method: 'GET', url });

  it('[1]-[5] empty service', async () => {
    const health = await get('/health');
    expect(health.statusCode).toBe(200);
    expect(health.body).toBe('');
    expect(health.headers['content-type']).toBeUndefined();
    for (const [url, body] of [
      ['/workers', '[]'],
      ['/peers', '[]'],
      ['/dump', '{}'],
    ]) {
      const r = await get(url!);
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body).toBe(body);
    }
    const q = await post('/query', '{"token_ids": [1, 2, 3, 4, 5, 6, 7, 8], "model_name": "m"}');
    expect(q.statusCode).toBe(404);
    expect(q.body).toBe('{"error":"no indexer for model=m routing_group=default"}');
  });

  it('[6]-[29] registration rules and messages', async () => {
    const reg = (body: string) => post('/register', body);
    const ok = await reg(
      '{"instance_id": 1, "endpoint": "tcp://127.0.0.1:45499", "model_name": "m", "block_size": 4, "dp_rank": 0, "replay_endpoint": "tcp://127.0.0.1:46169"}',
    );
    expect([ok.statusCode, ok.body]).toEqual([201, '{"status":"ok"}']);
    const dup = await reg(
      '{"instance_id": 1, "endpoint": "tcp://127.0.0.1:1", "model_name": "m", "block_size": 4, "dp_rank": 0}',
    );
    expect([dup.statusCode, dup.body]).toEqual([409, '{"error":"instance 1 dp_rank 0 already registered"}']);
    const bad: Array<[string, string]> = [
      ['not-a-url', 'invalid ZMQ endpoint `not-a-url`: missing scheme'],
      ['http://127.0.0.1:5557', 'invalid ZMQ endpoint `http://127.0.0.1:5557`: unsupported scheme `http`'],
      ['tcp://127.0.0.1', 'invalid ZMQ endpoint `tcp://127.0.0.1`: missing TCP port'],
      ['', 'invalid ZMQ endpoint ``: missing scheme'],
    ];
    for (const [endpoint, error] of bad) {
      const r = await reg(
        `{"instance_id": 2, "endpoint": ${JSON.stringify(endpoint)}, "model_name": "m", "block_size": 4}`,
      );
      expect(r.statusCode).toBe(400);
      expect(r.body).toBe(JSON.stringify({ error }));
    }
    const ipc = await reg(
      '{"instance_id": 9, "endpoint": "ipc:///tmp/example.sock", "model_name": "ipcmodel", "block_size": 4}',
    );
    expect(ipc.statusCode).toBe(201);
    const replay = await reg(
      '{"instance_id": 2, "endpoint": "tcp://127.0.0.1:5999", "model_name": "m", "block_size": 4, "replay_endpoint": "bogus"}',
    );
    expect(replay.body).toBe(
      '{"error":"invalid replay endpoint `bogus`: invalid ZMQ endpoint `bogus`: missing scheme"}',
    );
    const mismatch = await reg(
      '{"instance_id": 2, "endpoint": "tcp://127.0.0.1:5999", "model_name": "m", "block_size": 8}',
    );
    expect([mismatch.statusCode, mismatch.body]).toEqual([
      409,
      '{"error":"block_size mismatch for model=m routing_group=default: existing=4, requested=8"}',
    ]);
    const other = await reg(
      '{"instance_id": 9, "endpoint": "tcp://127.0.0.1:5998", "model_name": "m", "block_size": 4}',
    );
    expect([other.statusCode, other.body]).toEqual([
      409,
      '{"error":"instance 9 is already registered for model=ipcmodel routing_group=default"}',
    ]);
    const zero = await reg(
      '{"instance_id": 5, "endpoint": "tcp://127.0.0.1:5999", "model_name": "zero", "block_size": 0}',
    );
    // Deliberate difference from Dynamo 1.6.1 (block-size-zero): Dynamo answers 201 and creates a
    // partition that can never match; kvindex refuses it.
    expect([zero.statusCode, zero.body]).toEqual([400, '{"error":"block_size must be at least 1"}']);
    const tenant = await reg(
      '{"instance_id": 3, "endpoint": "tcp://127.0.0.1:35663", "model_name": "m", "block_size": 4, "tenant_id": "ignored-tenant", "additional_salt": "s"}',
    );
    expect(tenant.statusCode).toBe(201);
    const rg2 = await reg(
      '{"instance_id": 4, "endpoint": "tcp://127.0.0.1:37827", "model_name": "m", "block_size": 4, "routing_group": "rg2", "extra_unknown_field": true}',
    );
    expect(rg2.statusCode).toBe(201);

    const filtered = await get('/workers?routing_group=rg2');
    expect(filtered.body).toBe(
      '[{"instance_id":4,"source":"zmq","status":"active","model_name":"m","routing_group":"rg2","block_size":4,"endpoints":{"0":"tcp://127.0.0.1:37827"},"listeners":{"0":{"endpoint":"tcp://127.0.0.1:37827","status":"active"}}}]',
    );
    const byModel = JSON.parse((await get('/workers?model_name=m')).body) as Array<{ instance_id: number }>;
    expect(byModel.map((w) => w.instance_id).sort()).toEqual([1, 3, 4]);
  });

  it('[18]-[25] framework errors: 422, 400, 415 with axum/serde text', async () => {
    const cases: Array<[string, number, string]> = [
      [
        '{"instance_id": 2, "model_name": "m", "block_size": 4}',
        422,
        'Failed to deserialize the JSON body into the target type: missing field `endpoint` at line 1 column 54',
      ],
      [
        '{"instance_id": 2, "endpoint": "tcp://127.0.0.1:5999", "model_name": "m"}',
        422,
        'Failed to deserialize the JSON body into the target type: missing field `block_size` at line 1 column 73',
      ],
      [
        '{"endpoint": "tcp://127.0.0.1:5999", "model_name": "m", "block_size": 4}',
        422,
        'Failed to deserialize the JSON body into the target type: missing field `instance_id` at line 1 column 72',
      ],
      [
        '{"instance_id": -1, "endpoint": "tcp://127.0.0.1:5999", "model_name": "m", "block_size": 4}',
        422,
        'Failed to deserialize the JSON body into the target type: instance_id: invalid value: integer `-1`, expected u64 at line 1 column 18',
      ],
      [
        '{"instance_id": "7", "endpoint": "tcp://127.0.0.1:5999", "model_name": "m", "block_size": 4}',
        422,
        'Failed to deserialize the JSON body into the target type: instance_id: invalid type: string "7", expected u64 at line 1 column 19',
      ],
      [
        '{"instance_id": 2, ',
        400,
        'Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 19',
      ],
    ];
    for (const [body, status, text] of cases) {
      const r = await post('/register', body);
      expect(r.statusCode, body).toBe(status);
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(r.body).toBe(text);
    }
    const body =
      '{"instance_id": 1, "endpoint": "tcp://127.0.0.1:45499", "model_name": "m", "block_size": 4}';
    for (const headers of [{ 'content-type': 'text/plain' }, {}] as Record<string, string>[]) {
      const r = await post('/register', body, headers);
      expect(r.statusCode).toBe(415);
      expect(r.body).toBe('Expected request with `Content-Type: application/json`');
    }
    const q: Array<[string, number, string]> = [
      [
        '{"token_ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}',
        422,
        'Failed to deserialize the JSON body into the target type: missing field `model_name` at line 1 column 70',
      ],
      [
        '{"model_name": "m"}',
        422,
        'Failed to deserialize the JSON body into the target type: missing field `token_ids` at line 1 column 19',
      ],
      [
        '{"token_ids": [-1, 2, 3, 4], "model_name": "m"}',
        422,
        'Failed to deserialize the JSON body into the target type: token_ids[0]: invalid value: integer `-1`, expected u32 at line 1 column 17',
      ],
      [
        '{"token_ids": [4294967296, 2, 3, 4], "model_name": "m"}',
        422,
        'Failed to deserialize the JSON body into the target type: token_ids[0]: invalid value: integer `4294967296`, expected u32 at line 1 column 25',
      ],
      ['{not json', 400, 'Failed to parse the request body as JSON: key must be a string at line 1 column 2'],
    ];
    for (const [b, status, text] of q) {
      const r = await post('/query', b);
      expect([r.statusCode, r.body]).toEqual([status, text]);
    }
    const big = await post(
      '/query_by_hash',
      '{"block_hashes": [14643705804678351452, 16777012769546811212, 483935686894639516, 135165725823939817], "model_name": "m"}',
    );
    expect([big.statusCode, big.body]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: block_hashes[0]: invalid value: integer `14643705804678351452`, expected i64 at line 1 column 38',
    ]);
    const peer = await post('/register_peer', '{}');
    expect([peer.statusCode, peer.body]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `url` at line 1 column 2',
    ]);
    const unreg = await post('/unregister', '{"model_name": "m"}');
    expect(unreg.body).toBe(
      'Failed to deserialize the JSON body into the target type: missing field `instance_id` at line 1 column 19',
    );
  });

  it('[33]-[57] queries in tokens with dp ranks, lora, salt, query_by_hash, dump, removal, clear', async () => {
    const reg = (id: number, dp: number, group = 'default') =>
      post(
        '/register',
        `{"instance_id": ${id}, "endpoint": "tcp://127.0.0.1:${5000 + id * 10 + dp}", "model_name": "m", "block_size": 4, "dp_rank": ${dp}, "routing_group": "${group}"}`,
      );
    await reg(1, 0);
    await reg(1, 1);
    await reg(3, 0);
    await reg(4, 0, 'rg2');
    listeners.find(1n, 0).push([stored(1n, 0, T16, [1001n, 1002n, 1003n, 1004n])]);
    listeners.find(1n, 1).push([stored(1n, 1, T16, [1001n, 1002n])]);
    listeners.find(3n, 0).push([stored(3n, 0, T16, [1001n, 1002n, 1003n])]);
    listeners.find(4n, 0).push([stored(4n, 0, T16, [4001n])]);
    await app.service.ingestor.idle();

    const q = async (extra = '') =>
      JSON.parse(
        (await post('/query', `{"token_ids": ${JSON.stringify(T16)}, "model_name": "m"${extra}}`)).body,
      );
    expect(await q()).toEqual({
      scores: { '1': { '1': 8, '0': 16 }, '3': { '0': 12 } },
      frequencies: [],
      instances: {
        '3': { longest_matched: 12, gpu: 12, dp: { '0': 12 }, cpu: 12, disk: 12 },
        '1': { longest_matched: 16, gpu: 16, dp: { '0': 16, '1': 8 }, cpu: 16, disk: 16 },
      },
    });
    expect(await q(', "routing_group": "rg2"')).toEqual({
      scores: { '4': { '0': 4 } },
      frequencies: [],
      instances: { '4': { longest_matched: 4, gpu: 4, dp: { '0': 4 }, cpu: 4, disk: 4 } },
    });
    expect((await q(', "tenant_id": "rg2"')).scores).toEqual({ '1': { '1': 8, '0': 16 }, '3': { '0': 12 } });
    const empty = '{"scores":{},"frequencies":[],"instances":{}}';
    for (const extra of [', "lora_name": "my-adapter"', ', "cache_salt": "salt1"']) {
      const r = await post('/query', `{"token_ids": ${JSON.stringify(T16)}, "model_name": "m"${extra}}`);
      expect(r.body).toBe(empty);
    }
    for (const tokens of ['[]', '[1, 2, 3]']) {
      expect((await post('/query', `{"token_ids": ${tokens}, "model_name": "m"}`)).body).toBe(empty);
    }
    const byHash = await post(
      '/query_by_hash',
      '{"block_hashes": [-3803038269031200164, -1669731304162740404, 483935686894639516, 135165725823939817], "model_name": "m"}',
    );
    expect(JSON.parse(byHash.body).scores).toEqual({ '1': { '0': 16, '1': 8 }, '3': { '0': 12 } });
    const salted = await post(
      '/query_by_hash',
      '{"block_hashes": [-3803038269031200164], "model_name": "m", "cache_salt": "x"}',
    );
    expect([salted.statusCode, salted.body]).toEqual([
      400,
      '{"error":"cache_salt is not accepted by /query_by_hash; block_hashes must already include the intended cache salt"}',
    ]);
    expect((await post('/query_by_hash', '{"block_hashes": [1001, 1002], "model_name": "m"}')).body).toBe(
      empty,
    );

    const dump = await get('/dump');
    expect(dump.body).toContain('"tokens_hash":14643705804678351452');
    expect(Object.keys(JSON.parse(dump.body)).sort()).toEqual(['m:default', 'm:rg2']);
    // [55]: a section exactly as Dynamo writes it.
    expect(dump.body).toContain(
      '"m:rg2":{"block_size":4,"events":[{"worker_id":4,"storage_tier":"device","residency_domain":"worker","event":{"event_id":0,"data":{"stored":{"parent_hash":null,"start_position":null,"blocks":[{"block_hash":4001,"tokens_hash":14643705804678351452,"mm_extra_info":null}]}},"dp_rank":0}}]}',
    );

    listeners.find(1n, 0).push([
      {
        worker_id: 1n,
        storage_tier: 'device',
        event: { event_id: 1n, dp_rank: 0, data: { removed: { block_hashes: [1004n] } } },
      },
    ]);
    listeners
      .find(3n, 0)
      .push([
        { worker_id: 3n, storage_tier: 'device', event: { event_id: 1n, dp_rank: 0, data: 'cleared' } },
      ]);
    await app.service.ingestor.idle();
    expect(await q()).toEqual({
      scores: { '1': { '0': 12, '1': 8 } },
      frequencies: [],
      instances: { '1': { longest_matched: 12, gpu: 12, dp: { '1': 8, '0': 12 }, cpu: 12, disk: 12 } },
    });
  });

  it('[58]-[81] peers, unknown paths, wrong methods, unregister rules', async () => {
    expect((await post('/register_peer', '{"url": "http://127.0.0.1:1"}')).statusCode).toBe(201);
    expect((await post('/register_peer', '{"url": "http://127.0.0.1:1"}')).statusCode).toBe(201);
    expect((await post('/register_peer', '{"url": "not a url"}')).statusCode).toBe(201);
    expect((await get('/peers')).body).toBe('["http://127.0.0.1:1","not a url"]');
    expect((await post('/deregister_peer', '{"url": "http://127.0.0.1:1"}')).body).toBe('{"status":"ok"}');
    const again = await post('/deregister_peer', '{"url": "http://127.0.0.1:1"}');
    expect([again.statusCode, again.body]).toEqual([404, '{"error":"peer not found"}']);

    for (const [method, url, status] of [
      ['POST', '/unregister_peer', 404],
      ['GET', '/nope', 404],
      ['GET', '/query', 405],
      ['POST', '/health', 405],
      ['POST', '/test/pause_listener', 404],
    ] as const) {
      const r = await app.server.inject({
        method,
        url,
        headers: JSON_CT,
        payload: method === 'POST' ? '{}' : undefined,
      });
      expect(r.statusCode, `${method} ${url}`).toBe(status);
      expect(r.body).toBe('');
      expect(r.headers['content-type']).toBeUndefined();
      if (status === 405) expect(r.headers.allow).toBe(method === 'GET' ? 'POST' : 'GET,HEAD');
    }
    const reopen = await post('/reopen_logs', '{}');
    expect([reopen.statusCode, reopen.body]).toEqual([200, '{"status":"ok"}']);

    const reg = (id: number, dp: number) =>
      post(
        '/register',
        `{"instance_id": ${id}, "endpoint": "tcp://127.0.0.1:${6000 + id}", "model_name": "m", "block_size": 4, "dp_rank": ${dp}}`,
      );
    await reg(1, 0);
    await reg(1, 1);
    await reg(3, 0);
    const rank = await post(
      '/unregister',
      '{"instance_id": 1, "model_name": "m", "routing_group": "default", "dp_rank": 1}',
    );
    expect(rank.body).toBe('{"status":"ok"}');
    expect(listeners.all.find((l) => l.spec.instanceId === 1n && l.spec.dpRank === 1)!.closed).toBe(true);
    const w1 = JSON.parse((await get('/workers')).body).find(
      (w: { instance_id: number }) => w.instance_id === 1,
    );
    expect(Object.keys(w1.listeners)).toEqual(['0']);
    expect((await post('/unregister', '{"instance_id": 42, "model_name": "m"}')).body).toBe(
      '{"error":"instance 42 not found"}',
    );
    const wrong = await post('/unregister', '{"instance_id": 1, "model_name": "nope"}');
    expect([wrong.statusCode, wrong.body]).toEqual([
      404,
      '{"error":"instance 1 is registered for model=m routing_group=default"}',
    ]);
    expect(
      (await post('/unregister', '{"instance_id": 3, "model_name": "m", "routing_group": "default"}'))
        .statusCode,
    ).toBe(200);
    expect((await post('/unregister', '{"instance_id": 1, "model_name": "m"}')).statusCode).toBe(200);
    // [336] the partition disappears with its last instance.
    const gone = await post('/query', '{"token_ids": [1, 2, 3, 4], "model_name": "m"}');
    expect([gone.statusCode, gone.body]).toEqual([
      404,
      '{"error":"no indexer for model=m routing_group=default"}',
    ]);
    expect((await get('/dump')).body).toBe('{}');
  });

  it('re-registering after unregister starts a fresh listener (sequence watermark dropped)', async () => {
    const body = '{"instance_id": 7, "endpoint": "tcp://127.0.0.1:7000", "model_name": "m", "block_size": 4}';
    await post('/register', body);
    const first = listeners.find(7n);
    await post('/unregister', '{"instance_id": 7, "model_name": "m"}');
    expect(first.closed).toBe(true);
    await post('/register', body);
    expect(listeners.find(7n)).not.toBe(first);
  });

  it('413 over the body limits: 8 MiB on /query, 2 MiB elsewhere', async () => {
    const huge = `{"token_ids":[${'0,'.repeat(4.3 * 1024 * 1024)}0],"model_name":"m"}`;
    const r = await post('/query', huge);
    expect(r.statusCode).toBe(413);
    expect(r.body).toBe('Failed to buffer the request body: length limit exceeded');
    const mid = `{"url":"${'x'.repeat(3 * 1024 * 1024)}"}`;
    expect((await post('/register_peer', mid)).statusCode).toBe(413);
    expect(
      (await post('/query', `{"token_ids":[${'1,'.repeat(1024 * 1024)}1],"model_name":"m"}`)).statusCode,
    ).toBe(404);
  });

  it('exact u64 ids end to end', async () => {
    const id = '18446744073709551615';
    const r = await post(
      '/register',
      `{"instance_id": ${id}, "endpoint": "tcp://127.0.0.1:1", "model_name": "big", "block_size": 4}`,
    );
    expect(r.statusCode).toBe(201);
    expect((await get('/workers')).body).toContain(`"instance_id":${id}`);
    const over = await post(
      '/register',
      '{"instance_id": 18446744073709551616, "endpoint": "tcp://127.0.0.1:1", "model_name": "big", "block_size": 4}',
    );
    expect(over.statusCode).toBe(422);
  });
});
