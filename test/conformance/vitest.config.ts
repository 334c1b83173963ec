import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The suites start real Dynamo processes (indexer, mocker engine, frontend); startup alone takes
// tens of seconds on a shared 2-core machine, and files run one at a time to keep the load sane.
export default mergeConfig(
  shared,
  defineConfig({
    test: { testTimeout: 120_000, hookTimeout: 240_000, fileParallelism: false },
  }),
);
