import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  computeBlockHashes,
  computeSequenceHashes,
  type JsonValue,
  parseJsonExact,
  type RouterEvent,
} from '@kvindex/core';
import { DynamoNatsPublisher } from '@kvindex/transport';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../src/app.ts';
import { noEventsListenerFactory } from '../src/service/router-service.ts';
import { kvIndexFactory } from '../src/wiring/kv-index-partition.ts';
import {
  defaultQuerySubject,
  type IndexerQueryService,
  startIndexerQueryService,
} from '../src/wiring/nats-query-service.ts';
import { remoteIndexer } from '../src/wiring/remote-indexer.ts';
import { type DataPlaneProcess, startDataPlane, until } from './support/data-plane-process.ts';

// The kv_indexer_query service over a real nats-server (test/tools/nats-server.sh).

const INSTALLER = fileURLToPath(new URL('../../../test/tools/nats-server.sh', import.meta.url));
const BIG = 18_446_744_073_709_551_557n; // a u64 above 2^63: must come back exact

function startNats(): Promise<{ url: string; child: ChildProcess }> {
  const bin = execFileSync('bash', [INSTALLER], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    child.once('exit', (code) => reject(new Error(`nats-server exited ${code}: ${log}`)));
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) resolve({ url: `nats://127.0.0.1:${m[1]}`, child });
    });
  });
}

const TOKENS = Array.from({ length: 12 }, (_, i) => i + 1);

function stored(worker: bigint, dp: number, tokens: number[]): RouterEvent {
  const local = computeBlockHashes(Uint32Array.from(tokens), 4);
  const seq = computeSequenceHashes(local);
  return {
    worker_id: worker,
    storage_tier: 'device',
    event: {
      event_id: 1n,
      dp_rank: dp,
      data: {
        stored: {
          parent_hash: null,
          blocks: Array.from(local, (h, i) => ({ block_hash: seq[i]!, tokens_hash: h })),
        },
      },
    },
  };
}

describe('kv_indexer_query over NATS', () => {
  let nats: { url: string; child: ChildProcess };
  let app: App;
  let service: IndexerQueryService;
  let client: NatsConnection;
  const subject = defaultQuerySubject('dynamo', 'backend');

  beforeAll(async () => {
    nats = await startNats();
    app = createApp({ indexFactory: kvIndexFactory, listenerFactory: noEventsListenerFactory });
    const { registry } = app.service;
    registry.register({
      instanceId: BIG,
      endpoint: 'tcp://127.0.0.1:5999',
      modelName: 'm',
      routingGroup: 'default',
      blockSize: 4,
      dpRank: 1,
      replayEndpoint: undefined,
    });
    registry.start();
    const p = registry.partition('m', 'default')!;
    expect(registry.applyEvent(p, stored(BIG, 1, TOKENS))).toBe('ok');
    service = await startIndexerQueryService(() => registry.partition('m', 'default'), {
      url: nats.url,
      subject,
    });
    client = await connect({ servers: nats.url });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await service?.close();
    await app?.server.close();
    nats?.child.kill('SIGTERM');
  });

  const ask = async (body: string): Promise<JsonValue> => {
    const reply = await client.request(subject, body, { timeout: 5_000 });
    return parseJsonExact(reply.string());
  };

  it('FindMatchesTokens answers Matches with exact u64 worker ids', async () => {
    const reply = await client.request(
      subject,
      JSON.stringify({ FindMatchesTokens: { tokens: TOKENS.slice(0, 8), block_mm_infos: null } }),
      { timeout: 5_000 },
    );
    expect(reply.string()).toContain(`"${BIG}":{"1":2}`);
    expect(parseJsonExact(reply.string())).toEqual({
      Matches: { scores: { [String(BIG)]: { '1': 2 } }, frequencies: [] },
    });
  });

  it('FindMatchesHashed takes u64 or i64 hashes', async () => {
    const local = computeBlockHashes(Uint32Array.from(TOKENS), 4);
    const unsigned = await ask(`{"FindMatchesHashed":{"block_hashes":[${local.join(',')}]}}`);
    expect(unsigned).toEqual({ Matches: { scores: { [String(BIG)]: { '1': 3 } }, frequencies: [] } });
    const signed = Array.from(local, (h) => BigInt.asIntN(64, h));
    expect(await ask(`{"FindMatchesHashed":{"block_hashes":[${signed.join(',')}]}}`)).toEqual(unsigned);
    expect(await ask('{"FindMatchesHashed":{"block_hashes":[7]}}')).toEqual({
      Matches: { scores: {}, frequencies: [] },
    });
  });

  it('DumpTree answers the index as RouterEvents', async () => {
    const dump = (await ask('"DumpTree"')) as { TreeDump: Array<Record<string, JsonValue>> };
    expect(dump.TreeDump.length).toBeGreaterThan(0);
    expect(dump.TreeDump.every((e) => e.worker_id === BIG)).toBe(true);
  });

  it.each([
    ['{"FindMatchesTokens":', /invalid JSON/],
    ['{"Nope":{}}', /unknown request variant/],
    ['{"FindMatchesTokens":{"tokens":[-1]}}', /FindMatchesTokens.tokens/],
    ['[1,2]', /expected "DumpTree"/],
  ])('answers bad request %s with Error', async (body, message) => {
    const reply = (await ask(body)) as { Error: string };
    expect(reply.Error).toMatch(message);
  });

  it('keeps serving after bad requests', async () => {
    expect(service.answered()).toBeGreaterThanOrEqual(8);
    const again = await ask(JSON.stringify({ FindMatchesTokens: { tokens: TOKENS, block_mm_infos: null } }));
    expect(again).toEqual({ Matches: { scores: { [String(BIG)]: { '1': 3 } }, frequencies: [] } });
  });

  it('--use-remote-indexer with the subject routes on the served overlaps; no responder counts a failure', async () => {
    const remote = remoteIndexer(subject, { natsUrl: nats.url, timeoutMs: 2_000 });
    const silent = remoteIndexer('namespace.x.component.y.kv_indexer_query', {
      natsUrl: nats.url,
      timeoutMs: 2_000,
    });
    const routers = [remote, silent].map((r) => {
      const a = createApp({
        indexFactory: kvIndexFactory,
        listenerFactory: noEventsListenerFactory,
        routerRemote: r,
      });
      for (const [id, dp] of [
        [1n, 0],
        [BIG, 1],
      ] as const) {
        a.service.registry.register({
          instanceId: id,
          endpoint: 'tcp://127.0.0.1:5999',
          modelName: 'm',
          routingGroup: 'default',
          blockSize: 4,
          dpRank: dp,
          replayEndpoint: undefined,
        });
      }
      a.service.registry.start();
      return a;
    });
    try {
      const req = {
        modelName: 'm',
        routingGroup: 'default',
        requestId: 'r',
        tokenIds: Uint32Array.from(TOKENS),
      };
      expect(await routers[0]!.router.route(req)).toMatchObject({
        worker_id: BIG,
        dp_rank: 1,
        overlap_blocks: 3,
      });
      expect(remote.failures()).toBe(0);
      expect((await routers[1]!.router.route(req)).overlap_blocks).toBe(0);
      expect(silent.failures()).toBe(1);
    } finally {
      for (const a of routers) await a.server.close();
      await remote.close();
      await silent.close();
    }
  });
});

describe('a data-plane process with --serve-indexer', () => {
  let nats: { url: string; child: ChildProcess };
  let dp: DataPlaneProcess;
  let pub: DynamoNatsPublisher;
  let client: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    dp = await startDataPlane([
      '--nats-url',
      nats.url,
      '--nats-subjects',
      'ns1/comp1',
      '--block-size',
      '4',
      '--model-name',
      'm',
      '--serve-indexer',
    ]);
    pub = await DynamoNatsPublisher.connect({ servers: nats.url, namespace: 'ns1', component: 'comp1' });
    client = await connect({ servers: nats.url });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await pub?.close();
    expect(await dp?.stop()).toBe(0);
    nats?.child.kill('SIGTERM');
  });

  it('answers kv_indexer_query on the default subject from NATS-fed events, and routes on them', async () => {
    const local = computeBlockHashes(Uint32Array.from(TOKENS.slice(0, 8)), 4);
    const subject = defaultQuerySubject('ns1', 'comp1');
    const scores = await until('the served index to hold the published blocks', async () => {
      pub.publish({
        worker_id: BIG,
        storage_tier: 'device',
        event: {
          event_id: pub.sequence,
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
      });
      const reply = await client.request(
        subject,
        JSON.stringify({ FindMatchesTokens: { tokens: TOKENS.slice(0, 8), block_mm_infos: null } }),
        { timeout: 5_000 },
      );
      const body = parseJsonExact(reply.string()) as { Matches: { scores: Record<string, unknown> } };
      return Object.keys(body.Matches.scores).length > 0 ? body.Matches.scores : undefined;
    });
    expect(scores).toEqual({ [String(BIG)]: { '0': 2 } });
    const res = await fetch(`${dp.url}/v1/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model_name: 'm', request_id: 'p1', token_ids: TOKENS.slice(0, 8) }),
    });
    expect(res.status).toBe(200);
    expect(parseJsonExact(await res.text())).toMatchObject({ worker_id: BIG, overlap_blocks: 2 });
  }, 30_000);
});
