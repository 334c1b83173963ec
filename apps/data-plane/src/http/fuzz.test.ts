import { computeBlockHashes, type RouterEvent, type StorageTier } from '@kvindex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { manualListeners } from '../test-support/manual-listener.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';

// Fuzz-style: thousands of malformed, mistyped, oversized and random requests and events. Nothing
// may crash the process (no 5xx, no throw), and a control partition no request names must answer
// exactly as before.

/** xorshift64*: deterministic, so a failure reproduces from its seed. */
class Rng {
  private s: bigint;
  constructor(seed: bigint) {
    this.s = seed || 1n;
  }
  next(): number {
    let x = this.s;
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffff_ffff_ffff_ffffn;
    x ^= x >> 27n;
    this.s = x;
    return Number(((x * 0x2545f4914f6cdd1dn) & 0xffff_ffff_ffff_ffffn) >> 11n) / 2 ** 53;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u64(): bigint {
    return (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
  }
}

const FIELDS = [
  'instance_id',
  'endpoint',
  'model_name',
  'block_size',
  'dp_rank',
  'routing_group',
  'replay_endpoint',
  'token_ids',
  'block_hashes',
  'lora_name',
  'cache_salt',
  'url',
  'tenant_id',
  '__proto__',
  'constructor',
  '',
];

function randomScalar(r: Rng): string {
  return r.pick([
    () => String(r.int(10)),
    () => String(-r.int(1000)),
    () => r.u64().toString(),
    () => `${r.u64()}${r.int(10)}`,
    () => '18446744073709551616',
    () => '-9223372036854775809',
    () => '9223372036854775808',
    () => '1.5',
    () => '1e400',
    () => '-0',
    () => '1.0',
    () => 'true',
    () => 'null',
    () => '"tcp://127.0.0.1:1"',
    () => '"ipc:///tmp/x"',
    () => '"\\ud800"',
    () => '"m"',
    () => JSON.stringify('x'.repeat(r.int(300))),
    () => `"${String.fromCharCode(r.int(0x2000))}"`,
  ])();
}

function randomValue(r: Rng, depth = 0): string {
  const k = r.int(depth > 3 ? 1 : 4);
  if (k === 0) return randomScalar(r);
  if (k === 1) return `[${Array.from({ length: r.int(6) }, () => randomValue(r, depth + 1)).join(',')}]`;
  if (k === 2) return `[${Array.from({ length: r.int(40) }, () => r.int(2 ** 33) - 2 ** 31).join(',')}]`;
  return randomObject(r, depth + 1);
}

function randomObject(r: Rng, depth = 0): string {
  const n = r.int(7);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`${JSON.stringify(r.pick(FIELDS))}:${randomValue(r, depth)}`);
  return `{${parts.join(',')}}`;
}

/** A plausible body with one thing wrong (or nothing wrong). */
function mutatedBody(r: Rng): string {
  const base: Record<string, string> = {
    instance_id: String(r.int(50)),
    endpoint: JSON.stringify(r.pick(['tcp://127.0.0.1:5000', 'ipc:///tmp/a', 'bad', 'tcp://h', ''])),
    model_name: JSON.stringify(r.pick(['m', 'x', ''])),
    block_size: String(r.pick([0, 1, 4, 16])),
    token_ids: `[${Array.from({ length: r.int(64) }, () => r.int(20)).join(',')}]`,
    block_hashes: `[${Array.from({ length: r.int(8) }, () => (r.u64() - (1n << 63n)).toString()).join(',')}]`,
    url: '"http://127.0.0.1:1"',
  };
  const keys = Object.keys(base);
  const drop = r.int(3) === 0 ? r.pick(keys) : undefined;
  const swap = r.int(2) === 0 ? r.pick(keys) : undefined;
  const parts = keys.filter((k) => k !== drop).map((k) => `"${k}":${k === swap ? randomValue(r) : base[k]}`);
  let text = `{${parts.join(', ')}}`;
  if (r.int(6) === 0) text = text.slice(0, r.int(text.length));
  if (r.int(10) === 0) text = text.replace(/[,:]/, r.pick(['', ';', ',,', '::']));
  return text;
}

function randomBytes(r: Rng): Buffer {
  return Buffer.from(Array.from({ length: r.int(64) }, () => r.int(256)));
}

const ROUTES: Array<[string, string]> = [
  ['POST', '/register'],
  ['POST', '/unregister'],
  ['POST', '/query'],
  ['POST', '/query_by_hash'],
  ['POST', '/register_peer'],
  ['POST', '/deregister_peer'],
  ['POST', '/reopen_logs'],
  ['PUT', '/v1/models/m/workers'],
  ['GET', '/workers?model_name=m'],
  ['GET', '/dump'],
  ['GET', '/v1/models'],
  ['GET', '/readyz'],
  ['POST', '/nope'],
  ['DELETE', '/query'],
];

const CONTROL_TOKENS = Array.from({ length: 32 }, (_, i) => i * 7);

describe('fuzz: no input crashes the service or corrupts an index', () => {
  let app: App;
  let listeners: ReturnType<typeof manualListeners>;
  let control: string;

  const controlQuery = () =>
    app.server.inject({
      method: 'POST',
      url: '/query',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ token_ids: CONTROL_TOKENS, model_name: 'control-model' }),
    });

  beforeAll(async () => {
    listeners = manualListeners();
    app = createApp({ indexFactory: kvIndexFactory, listenerFactory: listeners.factory });
    app.service.registry.start();
    app.service.registry.register({
      instanceId: 4_000_000_000n,
      endpoint: 'tcp://127.0.0.1:9',
      replayEndpoint: undefined,
      modelName: 'control-model',
      routingGroup: 'default',
      blockSize: 4,
      dpRank: 0,
    });
    const local = computeBlockHashes(CONTROL_TOKENS, 4);
    listeners.find(4_000_000_000n).push([
      {
        worker_id: 4_000_000_000n,
        storage_tier: 'device',
        event: {
          event_id: 0n,
          dp_rank: 0,
          data: {
            stored: {
              parent_hash: null,
              blocks: [...local].slice(0, 6).map((t, i) => ({ block_hash: BigInt(i + 1), tokens_hash: t })),
            },
          },
        },
      },
    ]);
    await app.service.ingestor.idle();
    control = (await controlQuery()).body;
    expect(JSON.parse(control).scores).toEqual({ '4000000000': { '0': 24 } });
  });
  afterAll(async () => {
    await app.server.close();
  });

  it('answers 2,000 hostile requests with 2xx/4xx only', async () => {
    const r = new Rng(0x5eed_1234n);
    const allowed = new Set([200, 201, 400, 404, 405, 409, 413, 415, 422, 503]);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const [method, url] = r.pick(ROUTES);
      const kind = r.int(4);
      const payload = kind === 0 ? randomBytes(r) : kind === 1 ? randomObject(r) : mutatedBody(r);
      const contentType = r.pick([
        'application/json',
        'application/json; charset=utf-8',
        'application/vnd.x+json',
        'text/plain',
        undefined,
      ]);
      const res = await app.server.inject({
        method: method as 'POST',
        url,
        headers: contentType ? { 'content-type': contentType } : {},
        payload: method === 'GET' ? undefined : payload,
      });
      seen.add(res.statusCode);
      if (!allowed.has(res.statusCode)) {
        throw new Error(`#${i} ${method} ${url} ${String(payload)} -> ${res.statusCode} ${res.body}`);
      }
    }
    // The generator reaches every outcome class, not just the rejections.
    for (const status of [200, 201, 400, 404, 409, 415, 422]) expect(seen).toContain(status);
    await app.service.ingestor.idle();
    expect((await controlQuery()).body).toBe(control);
  }, 30_000);

  it('survives random and adversarial event streams, and queries stay well-formed', async () => {
    const r = new Rng(0xfeed_beefn);
    app.service.registry.register({
      instanceId: 77n,
      endpoint: 'tcp://127.0.0.1:10',
      replayEndpoint: undefined,
      modelName: 'fuzzed',
      routingGroup: 'default',
      blockSize: 4,
      dpRank: 0,
    });
    const tokens = Array.from({ length: 64 }, (_, i) => i % 9);
    const local = computeBlockHashes(tokens, 4);
    const tiers: StorageTier[] = ['device', 'device', 'host_pinned', 'disk', 'external'];
    const hashes = Array.from({ length: 24 }, (_, i) => BigInt(i + 1));
    for (let i = 0; i < 4000; i++) {
      const worker = r.pick([77n, 78n, 4_000_000_000n + 1n]);
      const dp = r.int(3);
      const k = r.int(10);
      let data: RouterEvent['event']['data'];
      if (k < 6) {
        const n = r.int(5);
        const start = r.int(local.length - n);
        data = {
          stored: {
            parent_hash: r.int(3) === 0 ? null : r.pick(hashes),
            blocks: Array.from({ length: n }, (_, j) => ({
              block_hash: r.int(5) === 0 ? r.u64() : r.pick(hashes),
              tokens_hash: r.int(8) === 0 ? r.u64() : local[start + j]!,
            })),
          },
        };
      } else if (k < 9) {
        data = { removed: { block_hashes: Array.from({ length: r.int(4) }, () => r.pick(hashes)) } };
      } else data = 'cleared';
      listeners.find(77n).push([
        {
          worker_id: worker,
          storage_tier: r.pick(tiers),
          event: { event_id: BigInt(i), dp_rank: dp, data },
        },
      ]);
      if (i % 200 === 0) {
        await app.service.ingestor.idle();
        const res = await app.server.inject({
          method: 'POST',
          url: '/query',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ token_ids: tokens, model_name: 'fuzzed' }),
        });
        expect(res.statusCode).toBe(200);
        const body = JSON.parse(res.body) as {
          instances: Record<string, { gpu: number; cpu: number; disk: number; longest_matched: number }>;
        };
        for (const s of Object.values(body.instances)) {
          expect(s.gpu).toBeLessThanOrEqual(s.cpu);
          expect(s.cpu).toBeLessThanOrEqual(s.disk);
          expect(s.longest_matched).toBeLessThanOrEqual(tokens.length);
        }
      }
    }
    await app.service.ingestor.idle();
    const dump = await app.server.inject({ method: 'GET', url: '/dump' });
    expect(dump.statusCode).toBe(200);
    expect((await controlQuery()).body).toBe(control);
  }, 30_000);
});
