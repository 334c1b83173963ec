import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoEnv, dynamoPython } from './dynamo-env.ts';
import { HttpClient } from './http-client.ts';
import { freePort } from './ports.ts';
import { type Spawned, spawnGroup, waitUntil } from './process-group.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * `dynamo-t1`: Dynamo's exact RadixTree backend (`--threads 1`), the reference every comparison
 * is made against. `dynamo-t4`: its default ThreadPoolIndexer over the concurrent tree.
 * `kvindex`: our data plane.
 */
export type ServiceKind = 'dynamo-t1' | 'dynamo-t4' | 'kvindex';

/** One running indexer service, reachable over loopback HTTP. */
export interface ServiceUnderTest {
  readonly kind: ServiceKind;
  readonly port: number;
  readonly http: HttpClient;
  readonly process: Spawned;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra command-line flags (same names on both services, e.g. --peers). */
  args?: string[];
  env?: Record<string, string>;
}

const HEALTH_TIMEOUT_MS = 60_000;

async function startHttpService(
  kind: ServiceKind,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<ServiceUnderTest> {
  const proc = spawnGroup(`${kind}:${port}`, command, args, { cwd: REPO_ROOT, env });
  const http = new HttpClient(`http://127.0.0.1:${port}`);
  try {
    await waitUntil(
      `${kind} /health`,
      async () => (await http.request('GET', '/health', { timeoutMs: 2000 })).status === 200,
      HEALTH_TIMEOUT_MS,
      proc,
      100,
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { kind, port, http, process: proc, stop: () => proc.stop() };
}

export async function startDynamoIndexer(
  threads: 1 | 4,
  options: StartOptions = {},
): Promise<ServiceUnderTest> {
  const port = await freePort();
  return startHttpService(
    threads === 1 ? 'dynamo-t1' : 'dynamo-t4',
    dynamoPython(),
    ['-m', 'dynamo.indexer', '--port', String(port), '--threads', String(threads), ...(options.args ?? [])],
    dynamoEnv(options.env),
    port,
  );
}

const DATA_PLANE_MAIN = join(REPO_ROOT, 'apps', 'data-plane', 'src', 'main.ts');

/**
 * Why the kvindex data plane cannot run yet, or null when it can. Until the service lands its
 * entry point only prints its flags; the suites then run against Dynamo alone and say so.
 */
export function kvindexMissing(): string | null {
  if (process.env.KVINDEX_CONFORMANCE_SKIP_KVINDEX === '1') return 'KVINDEX_CONFORMANCE_SKIP_KVINDEX=1';
  if (!existsSync(DATA_PLANE_MAIN)) return `${DATA_PLANE_MAIN} does not exist`;
  const main = readFileSync(DATA_PLANE_MAIN, 'utf8');
  if (main.includes('the service is not built yet')) {
    return 'apps/data-plane/src/main.ts says "the service is not built yet"';
  }
  return null;
}

const DATA_PLANE_DIST = join(REPO_ROOT, 'apps', 'data-plane', 'dist', 'main.js');

/**
 * The data plane from its TypeScript sources, or its build when KVINDEX_CONFORMANCE_BUILD=dist
 * (`pnpm build` first).
 */
export async function startKvindex(options: StartOptions = {}): Promise<ServiceUnderTest> {
  const port = await freePort();
  const dist = process.env.KVINDEX_CONFORMANCE_BUILD === 'dist';
  if (dist && !existsSync(DATA_PLANE_DIST))
    throw new Error(`${DATA_PLANE_DIST} is missing: run \`pnpm build\` first`);
  return startHttpService(
    'kvindex',
    process.execPath,
    [
      ...(dist ? [DATA_PLANE_DIST] : ['--conditions=source', DATA_PLANE_MAIN]),
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...(options.args ?? []),
    ],
    { ...process.env, KVINDEX_DEMO: 'off', ...options.env },
    port,
  );
}

export function startService(kind: ServiceKind, options: StartOptions = {}): Promise<ServiceUnderTest> {
  switch (kind) {
    case 'dynamo-t1':
      return startDynamoIndexer(1, options);
    case 'dynamo-t4':
      return startDynamoIndexer(4, options);
    case 'kvindex':
      return startKvindex(options);
  }
}

let warned = false;

/**
 * The services every scenario runs against: both Dynamo backends always, kvindex once it exists
 * (loudly reported when it does not, so a green run never hides that it compared Dynamo only).
 */
export function serviceKinds(): ServiceKind[] {
  const missing = kvindexMissing();
  if (missing !== null) {
    if (!warned) {
      warned = true;
      console.warn(
        `\n*** CONFORMANCE: kvindex data plane NOT compared (${missing}); running against Dynamo 1.6.1 only ***\n`,
      );
    }
    return ['dynamo-t1', 'dynamo-t4'];
  }
  return ['dynamo-t1', 'dynamo-t4', 'kvindex'];
}

/** Starts one of each kind (in parallel) and returns them in `kinds` order. */
export async function startServices(
  kinds: ServiceKind[],
  options: StartOptions = {},
): Promise<ServiceUnderTest[]> {
  const settled = await Promise.allSettled(kinds.map((k) => startService(k, options)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<ServiceUnderTest>).value);
}

export async function stopAll(services: readonly (ServiceUnderTest | undefined)[]): Promise<void> {
  await Promise.all(services.map((s) => s?.stop()));
}
