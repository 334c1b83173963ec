import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DYNAMO_VERSION = '1.6.1';

/** The virtual environment test/tools/dynamo.sh installs (CI runs every test/tools/*.sh first). */
export function dynamoPython(): string {
  const cache = process.env.KVINDEX_CACHE ?? join(homedir(), '.cache', 'kvindex');
  const venv = join(cache, `dynamo-${DYNAMO_VERSION}`);
  const python = join(venv, 'bin', 'python');
  if (!existsSync(join(venv, '.kvindex-complete')) || !existsSync(python)) {
    throw new Error(
      `NVIDIA Dynamo ${DYNAMO_VERSION} is not installed at ${venv}: run \`bash test/tools/dynamo.sh\` from the repository root (about 1.5 min, ~700 MB) and re-run the conformance suite`,
    );
  }
  return python;
}

/**
 * Environment for Dynamo processes: file discovery only (a stray etcd lookup hangs for minutes),
 * logs quiet enough to keep, and no model downloads.
 */
export function dynamoEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DYN_DISCOVERY_BACKEND: 'file',
    DYN_LOG: process.env.DYN_LOG ?? 'warn',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    ...extra,
  };
}
