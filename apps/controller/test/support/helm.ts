import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

// helm from test/tools/helm.sh (cached under ~/.cache/kvindex); missing means fail, not skip.

const repoRoot = resolve(import.meta.dirname, '../../../..');
const installer = join(repoRoot, 'test/tools/helm.sh');
export const chartDir = join(repoRoot, 'charts/kvindex');

export function helmBinary(): string {
  const match = /^HELM_VERSION=\$\{HELM_VERSION:-([0-9.]+)\}$/m.exec(readFileSync(installer, 'utf8'));
  if (!match) throw new Error(`${installer} does not pin HELM_VERSION`);
  const cache = process.env.KVINDEX_CACHE ?? join(homedir(), '.cache/kvindex');
  const path = join(cache, `helm-${process.env.HELM_VERSION ?? match[1]}`, 'helm');
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: build it once with \`bash test/tools/helm.sh\` (CI runs it from .ci/run).`,
    );
  }
  return path;
}

export function helm(args: string[]): string {
  try {
    return execFileSync(helmBinary(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`helm ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? String(error)}`);
  }
}
