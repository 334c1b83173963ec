export { type App, type AppOptions, createApp } from './app.ts';
export {
  type DataPlaneOptions,
  defaultOptions,
  helpText,
  OptionsError,
  parseOptions,
} from './cli/options.ts';
export { DemoFleet } from './demo/demo-fleet.ts';
export { openApiDocument } from './http/openapi.ts';
export { type RunningDataPlane, runDataPlane } from './run.ts';
export type {
  ApplyStatus,
  EventListener,
  IndexFactory,
  ListenerFactory,
  ListenerSpec,
  ListenerStats,
  ListenerStatus,
  PartitionIndex,
  WorkerMatch,
} from './service/ports.ts';
export { type ScoreResponse, scoreResponse } from './service/score-response.ts';
export { kvIndexFactory } from './wiring/kv-index-partition.ts';
export { zmqListenerFactory } from './wiring/zmq-listener.ts';
export { zmqWorkerListenerFactory } from './wiring/zmq-worker-listener.ts';
