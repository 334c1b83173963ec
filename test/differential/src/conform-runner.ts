import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A program speaking the conform protocol: lines in, one answer line per command line out. */
export interface ConformProgram {
  name: string;
  command: string;
  args: string[];
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function kvindexProgram(): ConformProgram {
  return {
    name: 'kvindex',
    command: process.execPath,
    args: ['--conditions=source', `${repoRoot}packages/indexer/src/conform-cli.ts`],
  };
}

export function oracleProgram(binary: string): ConformProgram {
  return { name: 'dynamo-1.6.1', command: binary, args: ['conform'] };
}

/** Runs one session: feeds every line, returns the answer lines. */
export function runConform(program: ConformProgram, lines: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(program.command, program.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          new Error(`${program.name} exited with ${code}: ${Buffer.concat(err).toString().slice(-2000)}`),
        );
        return;
      }
      const text = Buffer.concat(out).toString();
      resolve(text === '' ? [] : text.replace(/\n$/, '').split('\n'));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}
