import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { type ControlPlanePki, createControlPlanePki } from './pki.ts';

// A real Kubernetes control plane for tests, started the way controller-runtime's envtest does:
// etcd and kube-apiserver (optionally kube-controller-manager) on loopback ports, a self-signed CA,
// a client-certificate admin in system:masters, RBAC authorization. The binaries come from
// test/tools/kube-control-plane.sh; when they are missing the harness throws, it never skips.

const repoRoot = resolve(import.meta.dirname, '../../../..');
const installer = join(repoRoot, 'test/tools/kube-control-plane.sh');

/** The Kubernetes version the installer pins (read from the script: one source of truth). */
export function kubeVersion(): string {
  const match = /^KUBE_VERSION=\$\{KUBE_VERSION:-([0-9.]+)\}$/m.exec(readFileSync(installer, 'utf8'));
  if (!match) throw new Error(`${installer} does not pin KUBE_VERSION`);
  return process.env.KUBE_VERSION ?? match[1]!;
}

export function kubeBinDir(): string {
  if (process.env.KVINDEX_KUBE_BIN) return process.env.KVINDEX_KUBE_BIN;
  const cache = process.env.KVINDEX_CACHE ?? join(homedir(), '.cache/kvindex');
  return join(cache, `kube-${kubeVersion()}`);
}

function binary(name: string): string {
  const path = join(kubeBinDir(), name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: the control-plane tests need a real ${name}. ` +
        'Build it once with `bash test/tools/kube-control-plane.sh` (CI runs it from .ci/run).',
    );
  }
  return path;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

function startProcess(name: string, path: string, args: string[], logFile: string): ManagedProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(path, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const managed: ManagedProcess = {
    name,
    child,
    logFile,
    exitCode: undefined,
    exited: Promise.resolve(null),
  };
  managed.exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      managed.exitCode = code ?? (signal ? -1 : null);
      resolveExit(code);
    });
    child.once('error', () => {
      managed.exitCode = -1;
      resolveExit(-1);
    });
  });
  return managed;
}

async function stopProcess(process: ManagedProcess | undefined): Promise<void> {
  if (!process || process.exitCode !== undefined) return;
  process.child.kill('SIGTERM');
  const killed = await Promise.race([process.exited.then(() => true), delay(10_000).then(() => false)]);
  if (!killed) {
    process.child.kill('SIGKILL');
    await process.exited;
  }
}

function logTail(process: ManagedProcess): string {
  try {
    return readFileSync(process.logFile, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager: real ReplicaSets, namespace deletion, garbage collection. */
  controllerManager?: boolean;
  /** Milliseconds to wait for /readyz (default 60 s: a cold start on a busy 2-core machine). */
  startTimeoutMs?: number;
}

export interface ControlPlane {
  /** Admin (system:masters) credentials for @kubernetes/client-node. */
  kubeConfig: KubeConfig;
  /** A kubeconfig file with the same admin credentials (for kubectl or child processes). */
  kubeConfigFile: string;
  server: string;
  dir: string;
  pki: ControlPlanePki;
  /** Milliseconds from spawning kube-apiserver to its /readyz answering ok. */
  apiserverStartMs: number;
  /** A request to this apiserver as the admin; `path` starts with /api or /apis. */
  request(
    path: string,
    options?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<RawResponse>;
  /** Stops and starts kube-apiserver on the same port and etcd (watches break, state survives). */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

export interface RawResponse {
  status: number;
  body: string;
}

/** One HTTPS request as the admin, for what typed clients cannot express (raw schemas, Table output). */
export function rawRequest(
  url: string,
  pki: ControlPlanePki,
  options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolveRequest, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: pki.caPem,
        cert: pki.adminCertPem,
        key: pki.adminKeyPem,
        timeout: 10_000,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolveRequest({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const get = (url: string, pki: ControlPlanePki) => rawRequest(url, pki);

async function waitReady(
  check: () => Promise<boolean>,
  watched: ManagedProcess[],
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = watched.find((p) => p.exitCode !== undefined);
    if (dead)
      throw new Error(`${dead.name} exited (${dead.exitCode}) while waiting for ${what}:\n${logTail(dead)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tails = watched.map((p) => `--- ${p.name}\n${logTail(p)}`).join('\n');
      throw new Error(`${what} not ready after ${timeoutMs} ms\n${tails}`);
    }
    await delay(100);
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const etcdBin = binary('etcd');
  const apiserverBin = binary('kube-apiserver');
  const controllerManagerBin = options.controllerManager ? binary('kube-controller-manager') : undefined;
  const timeoutMs = options.startTimeoutMs ?? 60_000;

  const dir = mkdtempSync(join(tmpdir(), 'kvindex-kube-'));
  const processes: ManagedProcess[] = [];
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await stopProcess(p);
  };
  // A crashed test worker must not leave etcd and kube-apiserver running.
  const onExit = () => {
    for (const p of processes) if (p.exitCode === undefined) p.child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  try {
    const pki = createControlPlanePki(dir);
    const [etcdClientPort, etcdPeerPort, apiserverPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];

    const etcd = startProcess(
      'etcd',
      etcdBin,
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        // Test data is disposable; fsync would only make tests slower.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
    );
    processes.push(etcd);

    const server = `https://127.0.0.1:${apiserverPort}`;
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      // A loopback advertise address is refused by the endpoint reconciler, which would try to
      // publish it as the kubernetes Service's endpoint.
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--cert-dir=${dir}`,
      `--tls-cert-file=${pki.servingCertFile}`,
      `--tls-private-key-file=${pki.servingKeyFile}`,
      `--client-ca-file=${pki.caCertFile}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${pki.serviceAccountPubFile}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
      `--service-account-issuer=${server}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // Without kube-controller-manager nobody creates the default ServiceAccount, and this
      // admission plugin would reject every pod; with it, pods would race its creation.
      '--disable-admission-plugins=ServiceAccount',
      '--profiling=false',
    ];
    let apiserver = startProcess(
      'kube-apiserver',
      apiserverBin,
      apiserverArgs,
      join(dir, 'kube-apiserver.log'),
    );
    processes.push(apiserver);
    const apiserverReady = async () => (await get(`${server}/readyz`, pki)).status === 200;
    const spawnedAt = performance.now();
    await waitReady(apiserverReady, processes, 'kube-apiserver /readyz', timeoutMs);
    const apiserverStartMs = Math.round(performance.now() - spawnedAt);

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'kvindex-test', server, caData: Buffer.from(pki.caPem).toString('base64') }],
      users: [
        {
          name: 'admin',
          certData: Buffer.from(pki.adminCertPem).toString('base64'),
          keyData: Buffer.from(pki.adminKeyPem).toString('base64'),
        },
      ],
      contexts: [{ name: 'kvindex-test', cluster: 'kvindex-test', user: 'admin' }],
      currentContext: 'kvindex-test',
    });
    // JSON is YAML, and every kubeconfig reader accepts it.
    const kubeConfigFile = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeConfigFile, kubeConfig.exportConfig());

    // kube-controller-manager exits when the apiserver goes away while it starts controllers; a
    // restart of the apiserver therefore restarts it too, as kubelet would restart its static pod.
    let controllerManager: ManagedProcess | undefined;
    const startControllerManager = async () => {
      if (!controllerManagerBin) return;
      const healthPort = await freePort();
      controllerManager = startProcess(
        'kube-controller-manager',
        controllerManagerBin,
        [
          `--kubeconfig=${kubeConfigFile}`,
          `--authentication-kubeconfig=${kubeConfigFile}`,
          `--authorization-kubeconfig=${kubeConfigFile}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${healthPort}`,
          // Our CA's serving cert, so the health check below can verify it.
          `--tls-cert-file=${pki.servingCertFile}`,
          `--tls-private-key-file=${pki.servingKeyFile}`,
          '--leader-elect=false',
          `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
          `--root-ca-file=${pki.caCertFile}`,
          '--profiling=false',
        ],
        join(dir, 'kube-controller-manager.log'),
      );
      processes.push(controllerManager);
      await waitReady(
        async () => (await get(`https://127.0.0.1:${healthPort}/healthz`, pki)).status === 200,
        processes,
        'kube-controller-manager /healthz',
        timeoutMs,
      );
    };
    const stopControllerManager = async () => {
      if (!controllerManager) return;
      await stopProcess(controllerManager);
      processes.splice(processes.indexOf(controllerManager), 1);
      controllerManager = undefined;
    };
    await startControllerManager();

    let stopped = false;
    return {
      kubeConfig,
      kubeConfigFile,
      server,
      dir,
      pki,
      apiserverStartMs,
      request: (path, requestOptions) => rawRequest(`${server}${path}`, pki, requestOptions),
      async restartApiserver() {
        await stopControllerManager();
        await stopProcess(apiserver);
        processes.splice(processes.indexOf(apiserver), 1);
        apiserver = startProcess(
          'kube-apiserver',
          apiserverBin,
          apiserverArgs,
          join(dir, 'kube-apiserver.log'),
        );
        processes.splice(1, 0, apiserver);
        await waitReady(apiserverReady, processes, 'kube-apiserver /readyz after restart', timeoutMs);
        await startControllerManager();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        process.removeListener('exit', onExit);
        if (!process.env.KVINDEX_KEEP_CONTROL_PLANE) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll();
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
