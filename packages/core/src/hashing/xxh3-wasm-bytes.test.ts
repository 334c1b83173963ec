import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const buildScript = fileURLToPath(new URL('../../scripts/build-wasm.ts', import.meta.url));

describe('committed XXH3 WASM module (xxh3-wasm-bytes.generated.ts)', () => {
  it('is byte-identical to a fresh asc build of wasm/xxh3.ts', () => {
    // The script recompiles with the pinned asc and exits 1 on any difference; the fix is
    // `node scripts/build-wasm.ts` in packages/core (pnpm build runs it too).
    const run = spawnSync(process.execPath, [buildScript, '--check'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stderr}${run.stdout}`).toBe(0);
  }, 130_000);
});
