import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The replay property tests take a few seconds; on a shared 2-core machine that can exceed the
// default 5 s. The timeout guards against hangs only; speed is measured in bench/.
export default mergeConfig(shared, defineConfig({ test: { testTimeout: 30_000 } }));
