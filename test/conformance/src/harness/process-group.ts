import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A child started in its own process group, so stopping it also stops whatever it spawned (the
 * mocker and frontend start helper processes). Output is kept (bounded) for failure messages.
 */
export interface Spawned {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last output lines, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  stop(): Promise<void>;
}

const live = new Set<Spawned>();
const OUTPUT_LIMIT = 64 * 1024;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

// A crashed or interrupted test run must not leave Dynamo processes behind on a shared machine.
process.once('exit', () => {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const p of live) killGroup(p.pid, 'SIGKILL');
    process.exit(130);
  });
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnGroup(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Spawned {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  let text = '';
  const keep = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    if (text.length > OUTPUT_LIMIT) text = text.slice(text.length - OUTPUT_LIMIT / 2);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      done = true;
      text += `\nspawn error: ${err.message}`;
      resolve('spawn-error');
    });
  });
  const spawned: Spawned = {
    name,
    pid,
    child,
    output: () => text,
    exited,
    hasExited: () => done,
    async stop() {
      if (!done) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 4000);
        await exited;
        clearTimeout(timer);
      }
      // Helpers the leader spawned may outlive it; the group id still reaches them.
      killGroup(pid, 'SIGKILL');
      live.delete(spawned);
    },
  };
  live.add(spawned);
  return spawned;
}

/** Polls `ready` until it returns true; fails early (with the process output) if `proc` exits. */
export async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  proc?: Spawned,
  intervalMs = 200,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (proc?.hasExited()) {
      throw new Error(
        `${what}: ${proc.name} exited (${await proc.exited}) before it was ready:\n${proc.output()}`,
      );
    }
    try {
      if (await ready()) return performance.now() - start;
    } catch {
      // Not up yet.
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(
        `${what}: not ready after ${timeoutMs} ms${proc ? `; ${proc.name} output:\n${proc.output()}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
