import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INSTALLER = fileURLToPath(new URL('../../../../test/tools/nats-server.sh', import.meta.url));

/** Installs the pinned nats-server if needed (test/tools/nats-server.sh) and returns its path. */
export function installNatsServer(): string {
  const out = execFileSync('bash', [INSTALLER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').at(-1);
  if (!path) throw new Error('nats-server.sh printed no path');
  return path;
}

export interface NatsServerProcess {
  url: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM and wait for exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts nats-server on 127.0.0.1 (a random free port unless given) and waits until it listens. */
export function startNatsServer(bin: string, port = -1, timeoutMs = 10_000): Promise<NatsServerProcess> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`nats-server did not start within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) {
        clearTimeout(timer);
        const p = Number(m[1]);
        resolve({ url: `nats://127.0.0.1:${p}`, port: p, process: child, stop });
      }
    });
  });
}
