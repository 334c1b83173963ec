import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from './fleet.ts';

// kvindex-controller as a real process (src/main.ts through Node's type stripping), as the chart
// runs it: flags, pino logs to a file, /metrics and /healthz on an ephemeral loopback port.

const main = resolve(import.meta.dirname, '../../src/main.ts');

export interface ControllerProcess {
  child: ChildProcess;
  logFile: string;
  /** http://127.0.0.1:port of /metrics, /healthz, /readyz. */
  url: string;
  exited: Promise<number | null>;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startControllerProcess(
  kubeconfig: string,
  logDir: string,
  name: string,
  extraArgs: string[] = [],
): Promise<ControllerProcess> {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      main,
      '--kubeconfig',
      kubeconfig,
      '--indexer-image',
      'kvindex/data-plane:test',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '0',
      '--identity',
      name,
      '--log-level',
      'debug',
      ...extraArgs,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const log = () => readFileSync(logFile, 'utf8');
  const url = await waitFor(`${name} to serve /metrics`, () => {
    for (const line of log().split('\n')) {
      if (!line.includes('kvindex-controller started')) continue;
      return (JSON.parse(line) as { url: string }).url;
    }
    return undefined;
  });
  return {
    child,
    logFile,
    url,
    exited,
    log,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** One sample of a Prometheus text exposition, summed over label sets matching `labels`. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
