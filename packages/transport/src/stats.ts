/**
 * Why a whole message (one ZMQ message or NATS envelope) was dropped. Dynamo only logs these;
 * kvindex counts every one so the service can report them.
 */
export const MESSAGE_DROP_REASONS = [
  'frame_count',
  'seq_length',
  'payload_too_large',
  'invalid_msgpack',
  'batch_shape',
  'stale',
  'replay_buffer_overflow',
] as const;
export type MessageDropReason = (typeof MESSAGE_DROP_REASONS)[number];

/** Why one event inside an otherwise good batch was dropped; the rest of the batch still applies. */
export const EVENT_DROP_REASONS = [
  'event_shape',
  'unknown_tag',
  'ignored_tag',
  'non_zero_group',
  'non_main_kind',
  'non_local',
  'foreign_ownership',
  'unknown_medium',
  'block_size_mismatch',
  'duplicate_hash',
  'empty_store',
  'callback_error',
] as const;
export type EventDropReason = (typeof EVENT_DROP_REASONS)[number];

export type DropCounts<R extends string> = Record<R, number>;

export function zeroCounts<R extends string>(reasons: readonly R[]): DropCounts<R> {
  const out = {} as DropCounts<R>;
  for (const r of reasons) out[r] = 0;
  return out;
}

/** Counters every listener keeps; all monotonic except none. */
export interface IngestStats {
  /** Messages received from the wire (live and replayed). */
  messages: number;
  /** Batches whose events were handed to `onEvents` (possibly empty after filtering). */
  batches_applied: number;
  events: number;
  blocks: number;
  dropped_messages: DropCounts<MessageDropReason>;
  dropped_events: DropCounts<EventDropReason>;
  /** Stores that carried more block hashes than full token blocks; the extra hashes were not indexed. */
  truncated_stores: number;
  gaps: number;
  /** Batches known lost: gaps no replay could fill. */
  batches_lost: number;
  replays: number;
  replays_failed: number;
  replayed_batches: number;
  restarts: number;
  reconnects: number;
}

export function newIngestStats(): IngestStats {
  return {
    messages: 0,
    batches_applied: 0,
    events: 0,
    blocks: 0,
    dropped_messages: zeroCounts(MESSAGE_DROP_REASONS),
    dropped_events: zeroCounts(EVENT_DROP_REASONS),
    truncated_stores: 0,
    gaps: 0,
    batches_lost: 0,
    replays: 0,
    replays_failed: 0,
    replayed_batches: 0,
    restarts: 0,
    reconnects: 0,
  };
}

export function copyStats(stats: IngestStats): IngestStats {
  return {
    ...stats,
    dropped_messages: { ...stats.dropped_messages },
    dropped_events: { ...stats.dropped_events },
  };
}

/** Minimal structured logger; `console` fits. */
export interface Logger {
  debug?(msg: string, fields?: Record<string, unknown>): void;
  info?(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error?(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { warn() {} };
