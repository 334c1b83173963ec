export * from './active-sequences.ts';
export * from './config.ts';
export * from './cost.ts';
export * from './fcfs-queue.ts';
export * from './kv-router.ts';
export * from './select.ts';
