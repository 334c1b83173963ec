import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The suites under test/ each start a kube-apiserver (~330 MB) and processes: one file at a time.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
