import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { computeBlockHashes } from '@kvindex/core';
import { DynamoNatsPublisher } from '@kvindex/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataPlaneProcess, startDataPlane, until } from './support/data-plane-process.ts';

// --nats-url: Dynamo's NATS KV event plane through a real nats-server (test/tools/nats-server.sh).

const INSTALLER = fileURLToPath(new URL('../../../test/tools/nats-server.sh', import.meta.url));

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

describe('NATS ingestion', () => {
  let nats: { url: string; child: ChildProcess };
  let dp: DataPlaneProcess;
  let pub: DynamoNatsPublisher;

  beforeAll(async () => {
    nats = await startNats();
    dp = await startDataPlane([
      '--nats-url',
      nats.url,
      '--nats-subjects',
      'dynamo/backend',
      '--block-size',
      '4',
      '--model-name',
      'm',
    ]);
    pub = await DynamoNatsPublisher.connect({ servers: nats.url, namespace: 'dynamo', component: 'backend' });
  }, 60_000);
  afterAll(async () => {
    await pub?.close();
    expect(await dp?.stop()).toBe(0);
    nats?.child.kill('SIGTERM');
  });

  it('applies RouterEvents from the event plane to the configured partition', async () => {
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
    const local = computeBlockHashes(tokens, 4);
    const scores = await until('the NATS-fed blocks to be scored', async () => {
      pub.publish({
        worker_id: 42n,
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
      const res = await fetch(`${dp.url}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model_name: 'm', token_ids: tokens }),
      });
      const body = (await res.json()) as { scores: Record<string, Record<string, number>> };
      return body.scores['42'] ? body.scores : undefined;
    });
    expect(scores).toEqual({ '42': { '0': 8 } });
    const models = (await (await fetch(`${dp.url}/v1/models`)).json()) as {
      models: Array<{
        model_name: string;
        sources: Array<{ kind: string; name: string; state: string; events: number }>;
      }>;
    };
    expect(models.models[0]!.sources[0]).toMatchObject({ kind: 'nats', state: 'active' });
    expect(models.models[0]!.sources[0]!.events).toBeGreaterThan(0);
  }, 30_000);
});
