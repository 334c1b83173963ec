import { Agent, request } from 'node:http';

/**
 * An open-loop HTTP load generator for POST requests with pre-encoded bodies, over a bounded pool
 * of keep-alive connections.
 *
 * Why not `fetch`: at 1k requests/s of 50 KB bodies, Node's fetch (undici behind web streams,
 * re-encoding the string body per request) took about one of the machine's two cores by itself,
 * and its unbounded connection pool opened a new connection whenever the server fell behind; the
 * listen backlog then overflowed and requests failed with ECONNRESET. `node:http` with a
 * keep-alive Agent and a fixed socket cap costs a fraction of that and reuses connections; a
 * request that finds every socket busy waits in the Agent's queue, and because latency is counted
 * from when the request was due (open loop), that wait shows as latency, not as a lower rate.
 */

export interface LoadResult {
  /** Latencies of answered requests (any status), ms, unsorted. */
  latencies: number[];
  /** When each answered request was due, seconds since the start (parallel to `latencies`). */
  dueAt: number[];
  /** Send to answer, ms: without the wait for the pacing timer or a free connection. */
  roundTrips: number[];
  /** Requests answered with a status other than 200. */
  non200: number;
  /** Requests that failed at the connection level. */
  failed: number;
  firstError: string | undefined;
  elapsedSeconds: number;
}

export interface LoadOptions {
  url: string;
  /** Request bodies, sent round-robin. */
  bodies: readonly Buffer[];
  ratePerSecond: number;
  seconds: number;
  /** Upper bound on open connections. */
  connections: number;
}

export async function runOpenLoop(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const result: LoadResult = {
    latencies: [],
    dueAt: [],
    roundTrips: [],
    non200: 0,
    failed: 0,
    firstError: undefined,
    elapsedSeconds: 0,
  };
  const total = Math.round(options.ratePerSecond * options.seconds);
  const started = performance.now();
  let outstanding = 0;
  let finishedSending = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const settle = () => {
    outstanding--;
    if (finishedSending && outstanding === 0) resolveDone();
  };

  const send = (i: number, due: number) => {
    const body = options.bodies[i % options.bodies.length]!;
    const sentAt = performance.now();
    outstanding++;
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          if (res.statusCode !== 200) {
            if (result.non200++ === 0 && result.failed === 0)
              result.firstError = `HTTP ${res.statusCode ?? '?'}`;
          }
          // Open loop: latency counts from when the request was due, not when it was sent.
          const now = performance.now();
          result.latencies.push(now - due);
          result.roundTrips.push(now - sentAt);
          result.dueAt.push((due - started) / 1000);
          settle();
        });
      },
    );
    req.on('error', (err) => {
      if (result.failed++ === 0 && result.non200 === 0) result.firstError = err.message;
      settle();
    });
    req.end(body);
  };

  // Sends every request that is due, then sleeps until the next one: a late timer sends a burst
  // rather than silently lowering the rate.
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && started + (next * 1000) / options.ratePerSecond <= now) {
      send(next, started + (next * 1000) / options.ratePerSecond);
      next++;
    }
    if (next < total) {
      const wait = started + (next * 1000) / options.ratePerSecond - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  }
  finishedSending = true;
  if (outstanding > 0) await done;
  result.elapsedSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  return result;
}
