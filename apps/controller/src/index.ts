export * from './api/crd.ts';
export * from './api/indexer-deployment.ts';
export * from './desired/desired-state.ts';
export * from './desired/discover-workers.ts';
export * from './queue/work-queue.ts';
