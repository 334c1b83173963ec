import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(
  shared,
  defineConfig({
    test: { globalSetup: ['./src/global-setup.ts'], testTimeout: 240_000, hookTimeout: 600_000 },
  }),
);
