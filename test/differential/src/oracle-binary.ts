import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds (or finds cached) test/oracle, the conform program over Dynamo 1.6.1's own RadixTree, and
 * returns its path. Throws when cargo is missing: the differential proof must not pass silently.
 */
export function buildOracle(): string {
  const script = fileURLToPath(new URL('../../oracle/build.sh', import.meta.url));
  const stdout = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = stdout.trim().split('\n');
  return lines[lines.length - 1]!;
}
