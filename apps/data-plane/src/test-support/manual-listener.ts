import type { RouterEvent } from '@kvindex/core';
import type {
  EventListener,
  EventSink,
  ListenerFactory,
  ListenerSpec,
  ListenerStats,
  ListenerStatus,
} from '../service/ports.ts';

/**
 * A listener double for HTTP-layer tests (excluded from the build): the test pushes events by hand
 * instead of a ZMQ socket. Suites under test/ use the real transport listeners.
 */
/** A listener whose events the test pushes by hand. */
export class ManualListener implements EventListener {
  readonly spec: ListenerSpec;
  readonly sink: EventSink;
  state: ListenerStatus = 'active';
  error: string | undefined;
  closed = false;
  paused = false;
  counters: ListenerStats = {
    batches: 0,
    events: 0,
    gaps: 0,
    replays: 0,
    decodeErrors: 0,
    lagSeconds: undefined,
    caughtUp: true,
    dropped: {},
  };
  constructor(spec: ListenerSpec, sink: EventSink) {
    this.spec = spec;
    this.sink = sink;
  }
  status(): ListenerStatus {
    return this.state;
  }
  lastError(): string | undefined {
    return this.error;
  }
  stats(): ListenerStats {
    return this.counters;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  push(events: RouterEvent[]): void {
    this.counters.batches++;
    this.counters.events += events.length;
    this.sink(events, undefined);
  }
}

export function manualListeners(): {
  factory: ListenerFactory;
  all: ManualListener[];
  find: (id: bigint, dp?: number) => ManualListener;
} {
  const all: ManualListener[] = [];
  return {
    all,
    factory: (spec, sink) => {
      const l = new ManualListener(spec, sink);
      all.push(l);
      return l;
    },
    find: (id, dp = 0) => {
      const l = [...all].reverse().find((x) => x.spec.instanceId === id && x.spec.dpRank === dp && !x.closed);
      if (!l) throw new Error(`no open listener for ${id}:${dp}`);
      return l;
    },
  };
}
