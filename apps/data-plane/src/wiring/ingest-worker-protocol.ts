import type { PackedBatch } from '../service/columnar-batch.ts';
import type { ListenerReport } from './zmq-listener-report.ts';

/** Messages between the main thread (./zmq-worker-listener.ts) and the ingest worker. */

export interface ListenerSpecMessage {
  instanceId: bigint;
  dpRank: number;
  endpoint: string;
  replayEndpoint: string | undefined;
  blockSize: number;
  /** Open it paused (the ingest queue is overloaded). */
  paused: boolean;
}

export type ToIngestWorker =
  | { type: 'open'; id: number; spec: ListenerSpecMessage }
  | { type: 'close'; id: number }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  /** Sent once no listener is left: the worker stops its timers and exits by itself. */
  | { type: 'shutdown' };

export type FromIngestWorker =
  | { type: 'events'; id: number; batch: PackedBatch; ts: number | undefined }
  | { type: 'state'; id: number; report: ListenerReport }
  | { type: 'closed'; id: number }
  | {
      type: 'log';
      level: 'debug' | 'info' | 'warn' | 'error';
      msg: string;
      fields: Record<string, unknown> | undefined;
    };
