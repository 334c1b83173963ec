export * from './apply-op.ts';
export * from './event-stream.ts';
export * from './naive-index.ts';
