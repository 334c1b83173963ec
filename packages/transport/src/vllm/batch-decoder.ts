import { DecodeError, type RouterEvent, unpackMsgpack } from '@kvindex/core';
import type { IngestStats, Logger } from '../stats.ts';
import { readBatch } from './batch.ts';
import { convertWireEvent } from './convert-event.ts';

export interface BatchDecoderOptions {
  workerId: bigint;
  /** The rank the worker was registered with; a batch's own data_parallel_rank overrides it. */
  dpRank: number;
  blockSize: number;
  /** Larger payloads are dropped unread (counted as payload_too_large). */
  maxPayloadBytes?: number;
  stats: IngestStats;
  logger?: Logger;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

/** How many warnings of one kind a decoder logs before it only counts. */
const WARNINGS_PER_REASON = 3;

/**
 * Turns one vLLM/SGLang batch payload into RouterEvents for one (worker, stream). Drops are
 * counted in `stats` by reason; one bad event never costs the rest of its batch.
 */
export class VllmBatchDecoder {
  readonly workerId: bigint;
  readonly blockSize: number;
  readonly ranksSeen = new Set<number>();
  private readonly dpRank: number;
  private readonly maxPayloadBytes: number;
  private readonly stats: IngestStats;
  private readonly logger: Logger | undefined;
  private readonly warned = new Map<string, number>();
  /** Salted blocks this stream stored, so continuing stores inherit the salt. Unsalted ones are not kept. */
  private readonly saltByBlock = new Map<bigint, string>();
  private readonly saltOfParent = (hash: bigint) => this.saltByBlock.get(hash);

  constructor(options: BatchDecoderOptions) {
    this.workerId = options.workerId;
    this.dpRank = options.dpRank;
    this.blockSize = options.blockSize;
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.stats = options.stats;
    this.logger = options.logger;
    this.ranksSeen.add(options.dpRank);
  }

  /** The engine's wall-clock timestamp (seconds) of the last batch decoded: the basis of ingest lag. */
  lastBatchTs = Number.NaN;

  /** The batch's events with event_id = seq, or null when the whole message was dropped. */
  decode(seq: bigint, payload: Uint8Array): RouterEvent[] | null {
    const { stats } = this;
    if (payload.length > this.maxPayloadBytes) {
      stats.dropped_messages.payload_too_large++;
      this.warn('payload_too_large', { seq: String(seq), bytes: payload.length });
      return null;
    }
    let value: unknown;
    try {
      value = unpackMsgpack(payload);
    } catch (err) {
      stats.dropped_messages.invalid_msgpack++;
      this.warn('invalid_msgpack', { seq: String(seq), error: (err as Error).message });
      return null;
    }
    let batch: ReturnType<typeof readBatch>;
    try {
      batch = readBatch(value);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      stats.dropped_messages.batch_shape++;
      this.warn('batch_shape', { seq: String(seq), error: err.message });
      return null;
    }
    this.lastBatchTs = batch.ts;
    const dpRank = batch.dpRank ?? this.dpRank;
    this.ranksSeen.add(dpRank);
    const ctx = {
      workerId: this.workerId,
      dpRank,
      eventId: seq,
      blockSize: this.blockSize,
      saltOfParent: this.saltOfParent,
    };
    const out: RouterEvent[] = [];
    for (const raw of batch.events) {
      const converted = convertWireEvent(raw, ctx);
      if (converted.ok) {
        this.trackSalt(converted.event, converted.cacheSalt ?? null);
        out.push(converted.event);
        stats.blocks += converted.blocks;
        if (converted.truncated) stats.truncated_stores++;
      } else {
        stats.dropped_events[converted.reason]++;
        if (converted.reason !== 'ignored_tag') {
          this.warn(converted.reason, { seq: String(seq), detail: converted.detail });
        }
      }
    }
    stats.events += out.length;
    return out;
  }

  /** Forgets everything this stream stored (the engine restarted). */
  reset(): void {
    this.saltByBlock.clear();
  }

  private trackSalt(event: RouterEvent, salt: string | null): void {
    const data = event.event.data;
    if (data === 'cleared') this.saltByBlock.clear();
    else if ('stored' in data) {
      if (salt) for (const b of data.stored.blocks) this.saltByBlock.set(b.block_hash, salt);
    } else if (this.saltByBlock.size > 0) {
      for (const h of data.removed.block_hashes) this.saltByBlock.delete(h);
    }
  }

  private warn(reason: string, fields: Record<string, unknown>): void {
    if (!this.logger) return;
    const n = this.warned.get(reason) ?? 0;
    if (n >= WARNINGS_PER_REASON) return;
    this.warned.set(reason, n + 1);
    this.logger.warn(`kv event dropped: ${reason}`, { worker_id: String(this.workerId), ...fields });
  }
}
