import type { BatchMeta, ZmqEventListener } from '@kvindex/transport';
import type { ListenerStats, ListenerStatus } from '../service/ports.ts';

/** What the service shows of one ZMQ listener: status, last error and stats. */
export interface ListenerReport {
  status: ListenerStatus;
  lastError: string | undefined;
  stats: ListenerStats;
}

/**
 * Turns a transport ZmqEventListener's state into the service's vocabulary (Dynamo's for
 * /workers: a replaying listener is `active`, a stopped one `paused`), with the ingest lag and
 * caught-up flag learnt from the batches it delivered. Used in-thread and in the ingest worker.
 */
export class ZmqListenerReporter {
  private lagSeconds: number | undefined;
  private sawLive = false;

  /** Call for every batch the listener delivers. */
  noteBatch(meta: BatchMeta): void {
    if (Number.isFinite(meta.ts)) this.lagSeconds = Math.max(0, Date.now() / 1000 - meta.ts);
    if (!meta.replayed) this.sawLive = true;
  }

  status(listener: ZmqEventListener): ListenerStatus {
    const s = listener.status().state;
    if (s === 'replaying') return 'active';
    if (s === 'stopped') return 'paused';
    return s;
  }

  lastError(listener: ZmqEventListener): string | undefined {
    return listener.status().last_error ?? undefined;
  }

  stats(listener: ZmqEventListener): ListenerStats {
    const st = listener.stats();
    const status = listener.status();
    let decodeErrors = 0;
    const dropped: Record<string, number> = {};
    for (const [reason, n] of Object.entries(st.dropped_messages)) {
      if (reason !== 'stale') decodeErrors += n;
      if (n > 0) dropped[`message_${reason}`] = n;
    }
    for (const [reason, n] of Object.entries(st.dropped_events)) if (n > 0) dropped[reason] = n;
    return {
      batches: st.batches_applied,
      events: st.events,
      gaps: st.gaps,
      replays: st.replays,
      decodeErrors,
      lagSeconds: this.lagSeconds,
      caughtUp: status.state === 'active' && (this.sawLive || st.messages === 0),
      dropped,
    };
  }

  report(listener: ZmqEventListener): ListenerReport {
    return {
      status: this.status(listener),
      lastError: this.lastError(listener),
      stats: this.stats(listener),
    };
  }
}
