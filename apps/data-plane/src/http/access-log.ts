import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * Dynamo's `--access-log` JSON lines:
 * `{"ts","trace_id","method","path","model","status","duration_ms"}`, `path` being the route
 * pattern, `model` the request's model_name where the route has one, else "-".
 */

export interface AccessLogEntry {
  traceId: string;
  method: string;
  path: string;
  model: string;
  status: number;
  durationMs: number;
  /** When the request started (ms since epoch). */
  startedAt: number;
}

/** RFC 3339 with milliseconds: `Z` in UTC, `+hh:mm` in local time (chrono's to_rfc3339_opts). */
export function formatTimestamp(ms: number, localTime: boolean): string {
  const d = new Date(ms);
  if (!localTime) return d.toISOString();
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, -1);
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function formatAccessLine(e: AccessLogEntry, localTime: boolean): string {
  return JSON.stringify({
    ts: formatTimestamp(e.startedAt, localTime),
    trace_id: e.traceId,
    method: e.method,
    path: e.path,
    model: e.model,
    status: e.status,
    duration_ms: e.durationMs,
  });
}

export class AccessLog {
  private stream: WriteStream;
  private readonly path: string;
  private readonly localTime: boolean;

  constructor(path: string, localTime: boolean) {
    this.path = path;
    this.localTime = localTime;
    this.stream = this.open();
  }

  private open(): WriteStream {
    const s = createWriteStream(this.path, { flags: 'a' });
    // A failing log disk must not take the service down; the error is visible in the process log.
    s.on('error', (err) => process.emitWarning(`access log ${this.path}: ${err.message}`));
    return s;
  }

  write(entry: AccessLogEntry): void {
    this.stream.write(`${formatAccessLine(entry, this.localTime)}\n`);
  }

  /** For log rotation (`POST /reopen_logs`): later lines go to a freshly opened file. */
  reopen(): void {
    const old = this.stream;
    this.stream = this.open();
    old.end();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
