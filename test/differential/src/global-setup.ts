import type { TestProject } from 'vitest/node';
import { buildOracle } from './oracle-binary.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    oracleBinary: string;
  }
}

/**
 * Builds Dynamo's reference (test/oracle, cargo, cached under ~/.cache/kvindex). Without cargo the
 * suite fails loudly instead of skipping: a differential proof that did not run proves nothing.
 */
export default function setup(project: TestProject): void {
  let binary: string;
  try {
    binary = buildOracle();
  } catch (err) {
    throw new Error(
      `test/differential needs the Dynamo 1.6.1 oracle, and building it failed (is cargo installed? Rust >= 1.85): ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  project.provide('oracleBinary', binary);
}
