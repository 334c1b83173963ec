import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// Transport tests need a real nats-server: the global setup installs and starts one. They await
// conditions with their own deadlines; the longer test timeout only absorbs a loaded machine.
export default mergeConfig(
  shared,
  defineConfig({
    test: { globalSetup: ['./src/test-support/nats-global-setup.ts'], testTimeout: 30_000 },
  }),
);
