import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type AssignmentPolicy,
  bestMatch,
  parseTrace,
  SimFleet,
  type TraceRequest,
} from '@kvindex/simulator';
import { engineOutputToWireEvents, VllmZmqPublisher } from '@kvindex/transport';
import type { Logger } from 'pino';
import type { Service } from '../service/service.ts';

/**
 * The zero-config demo: simulated vLLM engines (the simulator's LRU block pools) publishing the
 * real vLLM ZMQ wire format on loopback, registered with this process like any engine, replaying
 * the bundled Mooncake conversation-trace slice in a loop. Requests are routed by kvindex's own
 * best match over the live index, so the dashboard shows a cache-aware fleet.
 */

export interface DemoOptions {
  modelName: string;
  routingGroup: string;
  workers?: number;
  blockSize?: number;
  blocksPerEngine?: number;
  /** Simulated requests per second. */
  requestsPerSecond?: number;
  tracePath?: string;
  logger?: Logger | undefined;
}

export const DEMO_WORKER_IDS = [1n, 2n, 3n, 4n];

export function defaultTracePath(): string {
  const candidates: string[] = [];
  try {
    candidates.push(
      fileURLToPath(new URL('../traces/conversation-slice.jsonl', import.meta.resolve('@kvindex/simulator'))),
    );
  } catch {
    // import.meta.resolve is unavailable in some runners; fall back to the monorepo layout.
  }
  candidates.push(
    fileURLToPath(new URL('../../../../packages/simulator/traces/conversation-slice.jsonl', import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`demo trace not found (looked at ${candidates.join(', ')})`);
  return found;
}

export class DemoFleet {
  readonly publishers: VllmZmqPublisher[];
  readonly options: Required<Omit<DemoOptions, 'logger' | 'tracePath'>>;
  private readonly fleet: SimFleet;
  private readonly trace: TraceRequest[];
  private readonly service: Service;
  private readonly logger: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private inFlight: Promise<unknown> = Promise.resolve();
  requests = 0;

  private constructor(
    service: Service,
    options: DemoOptions,
    publishers: VllmZmqPublisher[],
    trace: TraceRequest[],
  ) {
    this.service = service;
    this.logger = options.logger;
    this.options = {
      modelName: options.modelName,
      routingGroup: options.routingGroup,
      workers: options.workers ?? DEMO_WORKER_IDS.length,
      blockSize: options.blockSize ?? 16,
      blocksPerEngine: options.blocksPerEngine ?? 6000,
      requestsPerSecond: options.requestsPerSecond ?? 20,
    };
    this.publishers = publishers;
    this.trace = trace;
    const workerIds = DEMO_WORKER_IDS.slice(0, this.options.workers);
    this.fleet = new SimFleet({
      workers: workerIds.length,
      workerIds,
      blocksPerEngine: this.options.blocksPerEngine,
      blockSize: this.options.blockSize,
      policy: this.routeByBestMatch(workerIds),
    });
  }

  /** Binds the publishers and registers them; call before the registry starts its listeners. */
  static async start(service: Service, options: DemoOptions): Promise<DemoFleet> {
    const workers = options.workers ?? DEMO_WORKER_IDS.length;
    const trace = parseTrace(readFileSync(options.tracePath ?? defaultTracePath(), 'utf8'));
    const publishers: VllmZmqPublisher[] = [];
    try {
      for (let i = 0; i < workers; i++) {
        publishers.push(
          await VllmZmqPublisher.bind({
            endpoint: 'tcp://127.0.0.1:*',
            replayEndpoint: 'tcp://127.0.0.1:*',
            eventShape: 'map',
          }),
        );
      }
    } catch (err) {
      await Promise.all(publishers.map((p) => p.close()));
      throw err;
    }
    const demo = new DemoFleet(service, options, publishers, trace);
    publishers.forEach((p, i) => {
      service.registry.register({
        instanceId: DEMO_WORKER_IDS[i]!,
        endpoint: p.endpoint,
        replayEndpoint: p.replayEndpoint ?? undefined,
        modelName: demo.options.modelName,
        routingGroup: demo.options.routingGroup,
        blockSize: demo.options.blockSize,
        dpRank: 0,
      });
    });
    return demo;
  }

  /**
   * kvindex's own routing, the way Dynamo's KV router weighs it: the cost of a worker is the
   * blocks it would have to compute (prompt minus its cached prefix) plus a penalty for the
   * requests it took recently, so a prefix every conversation shares does not pin all traffic on
   * one worker.
   */
  private routeByBestMatch(workerIds: bigint[]): AssignmentPolicy {
    const recent: bigint[] = [];
    const LOAD_WINDOW = 8;
    const LOAD_PENALTY_BLOCKS = 80;
    return bestMatch((localHashes, request) => {
      const p = this.service.registry.partition(this.options.modelName, this.options.routingGroup);
      const started = performance.now();
      const matches = p ? p.index.findMatches(localHashes) : [];
      const cached = new Map<bigint, number>();
      for (const m of matches) cached.set(m.workerId, Math.max(cached.get(m.workerId) ?? 0, m.device));
      let best = workerIds[0]!;
      let bestCost = Number.POSITIVE_INFINITY;
      let bestCached = 0;
      for (const w of workerIds) {
        const hit = cached.get(w) ?? 0;
        const load = recent.filter((r) => r === w).length;
        const cost = localHashes.length - hit + LOAD_PENALTY_BLOCKS * load;
        if (cost < bestCost) {
          best = w;
          bestCost = cost;
          bestCached = hit;
        }
      }
      recent.push(best);
      if (recent.length > LOAD_WINDOW) recent.shift();
      this.service.queries.record(performance.now() - started);
      this.service.queries.remember({
        at: Date.now(),
        model_name: this.options.modelName,
        routing_group: this.options.routingGroup,
        tokens: request.tokens.length,
        token_ids: request.tokens,
        best_worker: String(best),
        best_tokens: bestCached * this.options.blockSize,
      });
      return best;
    });
  }

  /** Replays the trace in a loop at the configured rate. */
  run(): void {
    if (this.timer) return;
    const tickMs = 100;
    let credit = 0;
    this.timer = setInterval(() => {
      credit += (this.options.requestsPerSecond * tickMs) / 1000;
      while (credit >= 1) {
        credit--;
        this.step();
      }
    }, tickMs);
    this.timer.unref();
  }

  /** Routes and runs one trace request; its engine publishes the resulting events. */
  step(): void {
    const request = this.trace[this.next % this.trace.length]!;
    this.next++;
    const step = this.fleet.handle(request);
    this.requests++;
    const engineIndex = step.engineIndex % this.publishers.length;
    const publisher = this.publishers[engineIndex]!;
    const events = engineOutputToWireEvents({
      removed: step.output.removed,
      stored: step.output.stored,
    });
    if (events.length === 0) return;
    this.inFlight = publisher.publish(events).catch((err: Error) => {
      this.logger?.warn({ err: err.message }, 'demo publish failed');
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await Promise.all(this.publishers.map((p) => p.close()));
  }
}
