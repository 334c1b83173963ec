import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dynamoEnv, dynamoPython } from './dynamo-env.ts';
import { HttpClient } from './http-client.ts';
import { freePort, freePortBlocks } from './ports.ts';
import { type Spawned, spawnGroup, waitUntil } from './process-group.ts';
import { writeTinyModel } from './tiny-model.ts';

export const MOCKER_MODEL = 'tiny';

export interface MockerPublisher {
  /** Index of the mocker worker in the process (`--num-workers`). */
  worker: number;
  dpRank: number;
  endpoint: string;
  replayEndpoint: string;
}

export interface MockerFleetOptions {
  workers: number;
  dpSize: number;
  blockSize: number;
  gpuBlocksPerRank: number;
}

/**
 * Dynamo's own mocker engine (a real vLLM-wire publisher) and its frontend, found through file
 * discovery in a private directory, on free ports (doc §6). One process hosts every worker.
 */
export class MockerFleet {
  readonly publishers: MockerPublisher[];
  readonly options: MockerFleetOptions;
  /** From spawn until the frontend lists the model. */
  readonly startupMs: number;
  private readonly frontend: HttpClient;
  private readonly processes: Spawned[];
  private readonly dir: string;

  private constructor(
    options: MockerFleetOptions,
    publishers: MockerPublisher[],
    frontend: HttpClient,
    processes: Spawned[],
    dir: string,
    startupMs: number,
  ) {
    this.options = options;
    this.publishers = publishers;
    this.frontend = frontend;
    this.processes = processes;
    this.dir = dir;
    this.startupMs = startupMs;
  }

  static async start(options: MockerFleetOptions): Promise<MockerFleet> {
    const dir = mkdtempSync(join(tmpdir(), 'kvindex-mocker-'));
    const modelDir = join(dir, 'model');
    const fileKv = join(dir, 'discovery');
    mkdirSync(fileKv);
    writeTinyModel(modelDir);
    const kvBases = await freePortBlocks(options.workers, options.dpSize);
    const replayBases = await freePortBlocks(options.workers, options.dpSize);
    const httpPort = await freePort();
    const env = dynamoEnv({ DYN_FILE_KV: fileKv, DYN_SELF_HOST_METADATA: '0' });
    const common = ['--discovery-backend', 'file', '--request-plane', 'tcp', '--event-plane', 'zmq'];
    const python = dynamoPython();
    const started = performance.now();
    const mocker = spawnGroup(
      'dynamo.mocker',
      python,
      [
        '-m',
        'dynamo.mocker',
        '--model-path',
        modelDir,
        '--model-name',
        MOCKER_MODEL,
        '--block-size',
        String(options.blockSize),
        '--num-gpu-blocks-override',
        String(options.gpuBlocksPerRank),
        '--speedup-ratio',
        '100',
        '--num-workers',
        String(options.workers),
        '--data-parallel-size',
        String(options.dpSize),
        '--zmq-kv-events-ports',
        kvBases.join(','),
        '--zmq-replay-ports',
        replayBases.join(','),
        ...common,
      ],
      { env, cwd: dir },
    );
    const frontendProc = spawnGroup(
      'dynamo.frontend',
      python,
      ['-m', 'dynamo.frontend', '--http-port', String(httpPort), '--router-mode', 'round-robin', ...common],
      { env, cwd: dir },
    );
    const processes = [mocker, frontendProc];
    const frontend = new HttpClient(`http://127.0.0.1:${httpPort}`);
    try {
      await waitUntil(
        'frontend lists the mocker model',
        async () => {
          if (mocker.hasExited()) throw new Error('mocker exited');
          const models = (await frontend.ok('GET', '/v1/models')) as { data?: Array<{ id?: string }> };
          return (models.data ?? []).some((m) => m.id === MOCKER_MODEL);
        },
        120_000,
        frontendProc,
        250,
      );
      if (mocker.hasExited()) throw new Error(`mocker exited:\n${mocker.output()}`);
    } catch (err) {
      await Promise.all(processes.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${(err as Error).message}\n--- mocker output:\n${mocker.output()}`);
    }
    const startupMs = performance.now() - started;
    const publishers: MockerPublisher[] = [];
    for (let w = 0; w < options.workers; w++) {
      for (let d = 0; d < options.dpSize; d++) {
        publishers.push({
          worker: w,
          dpRank: d,
          endpoint: `tcp://127.0.0.1:${kvBases[w]! + d}`,
          replayEndpoint: `tcp://127.0.0.1:${replayBases[w]! + d}`,
        });
      }
    }
    return new MockerFleet(options, publishers, frontend, processes, dir, startupMs);
  }

  /** One completion through the frontend; the prompt is words `wN` (token N). */
  async complete(tokens: readonly number[], maxTokens = 2): Promise<void> {
    const prompt = tokens.map((t) => `w${t}`).join(' ');
    const reply = await this.frontend.post(
      '/v1/completions',
      { model: MOCKER_MODEL, prompt, max_tokens: maxTokens },
      { timeoutMs: 60_000 },
    );
    if (reply.status !== 200) throw new Error(`completion → ${reply.status} ${reply.text.slice(0, 300)}`);
  }

  output(): string {
    return this.processes.map((p) => `--- ${p.name}\n${p.output()}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
