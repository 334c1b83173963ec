import { isRemoved, isStored, type RouterEvent } from '@kvindex/core';
import { EVENT_OBJECT, EVENT_STORED, ReceivedBatch } from './columnar-batch.ts';
import { listenerEndpointsError } from './endpoint.ts';
import { type IngestBatch, type Ingestor, routerEventBatch } from './ingestor.ts';
import type {
  ApplyStatus,
  EventListener,
  IndexFactory,
  ListenerFactory,
  ListenerStats,
  ListenerStatus,
  PartitionIndex,
} from './ports.ts';

/**
 * Partitions (model, routing_group), instances and their per-dp-rank listeners, with Dynamo
 * 1.6.1's registry rules and messages: an instance belongs to one partition, the first
 * registration fixes the block size, the last listener unregistered removes the worker from the
 * index, and a partition with no workers left disappears.
 */

export class RegistryError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export type EventType = 'stored' | 'removed' | 'cleared';

export function eventTypeOf(event: RouterEvent): EventType {
  const data = event.event.data;
  return isStored(data) ? 'stored' : isRemoved(data) ? 'removed' : 'cleared';
}

export interface Partition {
  readonly modelName: string;
  readonly routingGroup: string;
  readonly blockSize: number;
  readonly index: PartitionIndex;
  eventsApplied: number;
  eventsFailed: number;
  /** Fed by a source other than registered instances (NATS): kept when its last instance goes. */
  pinned: boolean;
  /** Those other sources, for /v1/models. */
  sources: ExtraSource[];
}

/** A feed that is not a registered instance's listener (a NATS subject). */
export interface ExtraSource {
  kind: 'nats';
  name: string;
  state(): string;
  stats(): { events: number; gaps: number; dropped: Record<string, number>; lastError: string | undefined };
}

interface ListenerRecord {
  /** When the record was created (ms since epoch): /readyz gives unreachable engines a grace period. */
  readonly since: number;
  readonly endpoint: string;
  readonly replayEndpoint: string | undefined;
  listener: EventListener | undefined;
  alive: boolean;
}

interface Instance {
  readonly partitionKey: string;
  readonly listeners: Map<number, ListenerRecord>;
  /** Operator-assigned generation (PUT /v1/models/{model}/workers); a change means a new process. */
  generation: string | undefined;
}

export interface RegisterRequest {
  instanceId: bigint;
  endpoint: string;
  modelName: string;
  routingGroup: string;
  blockSize: number;
  dpRank: number;
  replayEndpoint: string | undefined;
}

export interface ListenerInfo {
  endpoint: string;
  status: ListenerStatus;
  last_error?: string;
}

export interface WorkerInfo {
  instance_id: bigint;
  source: 'zmq';
  status: ListenerStatus;
  model_name: string;
  routing_group: string;
  block_size: number;
  endpoints: Record<string, string>;
  listeners: Record<string, ListenerInfo>;
}

export interface RegistryDeps {
  indexFactory: IndexFactory;
  listenerFactory: ListenerFactory;
  ingestor: Ingestor;
  /** Called per applied event with Dynamo's event_type/status labels. */
  onApplied?: (type: EventType, status: ApplyStatus) => void;
  /** Called once per event that arrived from a listener (before it is queued). */
  onReceived?: (partition: Partition, count: number) => void;
}

export function partitionKey(modelName: string, routingGroup: string): string {
  return `${modelName}\u0000${routingGroup}`;
}

/** Dynamo's aggregate: failed > pending > active > paused. */
export function aggregateStatus(statuses: Iterable<ListenerStatus>): ListenerStatus {
  let pending = false;
  let active = false;
  for (const s of statuses) {
    if (s === 'failed') return 'failed';
    if (s === 'pending') pending = true;
    else if (s === 'active') active = true;
  }
  return pending ? 'pending' : active ? 'active' : 'paused';
}

const EMPTY_STATS: ListenerStats = {
  batches: 0,
  events: 0,
  gaps: 0,
  replays: 0,
  decodeErrors: 0,
  lagSeconds: undefined,
  caughtUp: false,
  dropped: {},
};

function failedListener(message: string): EventListener {
  return {
    status: () => 'failed',
    lastError: () => message,
    stats: () => EMPTY_STATS,
    close: async () => {},
  };
}

export class WorkerRegistry {
  private readonly partitionsByKey = new Map<string, Partition>();
  private readonly instances = new Map<bigint, Instance>();
  private readonly peerSet = new Set<string>();
  private readonly deps: RegistryDeps;
  private started = false;
  /** Listeners are paused while the ingest queue is overloaded. */
  private paused = false;

  constructor(deps: RegistryDeps) {
    this.deps = deps;
  }

  /** Listeners start draining only after start(): peer recovery and snapshots load first. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const [instanceId, instance] of this.instances) {
      for (const [dpRank, record] of instance.listeners)
        this.startListener(instanceId, dpRank, instance, record);
    }
  }

  get isStarted(): boolean {
    return this.started;
  }

  // -- partitions ---------------------------------------------------------------------------

  partition(modelName: string, routingGroup: string): Partition | undefined {
    return this.partitionsByKey.get(partitionKey(modelName, routingGroup));
  }

  partitions(): Partition[] {
    return [...this.partitionsByKey.values()];
  }

  /** The partition for a recovery load: created if absent, the existing block size kept. */
  partitionForLoad(modelName: string, routingGroup: string, blockSize: number): Partition {
    return (
      this.partition(modelName, routingGroup) ?? this.createPartition(modelName, routingGroup, blockSize)
    );
  }

  private createPartition(modelName: string, routingGroup: string, blockSize: number): Partition {
    const p: Partition = {
      modelName,
      routingGroup,
      blockSize,
      index: this.deps.indexFactory(blockSize),
      eventsApplied: 0,
      eventsFailed: 0,
      pinned: false,
      sources: [],
    };
    this.partitionsByKey.set(partitionKey(modelName, routingGroup), p);
    return p;
  }

  /** A partition that outlives its instances (NATS-fed); created if absent. */
  pinPartition(modelName: string, routingGroup: string, blockSize: number): Partition {
    const p = this.partitionForLoad(modelName, routingGroup, blockSize);
    p.pinned = true;
    return p;
  }

  private maybeRemovePartition(key: string): void {
    if (this.partitionsByKey.get(key)?.pinned) return;
    for (const instance of this.instances.values()) if (instance.partitionKey === key) return;
    this.partitionsByKey.delete(key);
  }

  /** Applies one event and counts it; used by listeners (through the ingestor) and loads. */
  applyEvent(p: Partition, event: RouterEvent): ApplyStatus {
    let status: ApplyStatus;
    try {
      status = p.index.apply(event);
    } catch {
      // An index must not throw on bad input; if one does, the event is counted, not fatal.
      status = 'indexer_invariant_violation';
    }
    if (status === 'ok') p.eventsApplied++;
    else p.eventsFailed++;
    this.deps.onApplied?.(eventTypeOf(event), status);
    return status;
  }

  /** Applies event `i` of a columnar batch, counted as `applyEvent` counts. */
  applyBatchEvent(p: Partition, batch: ReceivedBatch, i: number): ApplyStatus {
    const kind = batch.kindAt(i);
    if (kind === EVENT_OBJECT) return this.applyEvent(p, batch.objectAt(i));
    let status: ApplyStatus;
    try {
      status = p.index.applyBatchEvent
        ? p.index.applyBatchEvent(batch.columns, i)
        : p.index.apply(batch.eventAt(i));
    } catch {
      status = 'indexer_invariant_violation';
    }
    if (status === 'ok') p.eventsApplied++;
    else p.eventsFailed++;
    this.deps.onApplied?.(kind === EVENT_STORED ? 'stored' : 'removed', status);
    return status;
  }

  // -- instances ----------------------------------------------------------------------------

  register(req: RegisterRequest): void {
    const endpointError = listenerEndpointsError(req.endpoint, req.replayEndpoint);
    if (endpointError) throw new RegistryError(400, endpointError);
    // Dynamo accepts 0 and creates a partition that can never match; refusing it is a deliberate difference.
    if (req.blockSize === 0) throw new RegistryError(400, 'block_size must be at least 1');
    const key = partitionKey(req.modelName, req.routingGroup);
    const existing = this.instances.get(req.instanceId);
    if (existing) {
      if (existing.partitionKey !== key) {
        const p = this.partitionsByKey.get(existing.partitionKey)!;
        throw new RegistryError(
          409,
          `instance ${req.instanceId} is already registered for model=${p.modelName} routing_group=${p.routingGroup}`,
        );
      }
      if (existing.listeners.has(req.dpRank)) {
        throw new RegistryError(409, `instance ${req.instanceId} dp_rank ${req.dpRank} already registered`);
      }
    }
    const p =
      this.partitionsByKey.get(key) ?? this.createPartition(req.modelName, req.routingGroup, req.blockSize);
    if (p.blockSize !== req.blockSize) {
      throw new RegistryError(
        409,
        `block_size mismatch for model=${req.modelName} routing_group=${req.routingGroup}: existing=${p.blockSize}, requested=${req.blockSize}`,
      );
    }
    let instance = existing;
    if (!instance) {
      instance = { partitionKey: key, listeners: new Map(), generation: undefined };
      this.instances.set(req.instanceId, instance);
    }
    const record: ListenerRecord = {
      since: Date.now(),
      endpoint: req.endpoint,
      replayEndpoint: req.replayEndpoint,
      listener: undefined,
      alive: true,
    };
    instance.listeners.set(req.dpRank, record);
    if (this.started) this.startListener(req.instanceId, req.dpRank, instance, record);
  }

  private startListener(
    instanceId: bigint,
    dpRank: number,
    instance: Instance,
    record: ListenerRecord,
  ): void {
    const p = this.partitionsByKey.get(instance.partitionKey)!;
    const apply = (event: RouterEvent) => {
      this.applyEvent(p, event);
    };
    const alive = () => record.alive;
    const spec = {
      instanceId,
      dpRank,
      endpoint: record.endpoint,
      replayEndpoint: record.replayEndpoint,
      blockSize: p.blockSize,
      modelName: p.modelName,
      routingGroup: p.routingGroup,
    };
    const sink = (events: RouterEvent[] | ReceivedBatch) => {
      if (!record.alive) return;
      this.deps.onReceived?.(p, events.length);
      const batch: IngestBatch =
        events instanceof ReceivedBatch
          ? { size: events.length, applyAt: (i) => this.applyBatchEvent(p, events, i), alive }
          : routerEventBatch(events, apply, alive);
      this.deps.ingestor.push(batch);
    };
    try {
      record.listener = this.deps.listenerFactory(spec, sink);
      if (this.paused) record.listener.pause?.();
    } catch (err) {
      // A listener that cannot even be created is reported failed, never a 500 or a crash.
      record.listener = failedListener(err instanceof Error ? err.message : String(err));
    }
  }

  private stopListener(record: ListenerRecord): Promise<void> {
    record.alive = false;
    const l = record.listener;
    record.listener = undefined;
    return l ? l.close().catch(() => {}) : Promise.resolve();
  }

  /** `/unregister` without routing_group: the instance wherever it is within the model. */
  unregisterInModel(instanceId: bigint, modelName: string): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new RegistryError(404, `instance ${instanceId} not found`);
    const p = this.partitionsByKey.get(instance.partitionKey)!;
    if (p.modelName !== modelName) throw this.registeredElsewhere(instanceId, p);
    return this.removeInstance(instanceId, instance);
  }

  /** `/unregister` with routing_group (and without dp_rank). */
  unregister(instanceId: bigint, modelName: string, routingGroup: string): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new RegistryError(404, `instance ${instanceId} not found`);
    const p = this.partitionsByKey.get(instance.partitionKey)!;
    if (instance.partitionKey !== partitionKey(modelName, routingGroup))
      throw this.registeredElsewhere(instanceId, p);
    return this.removeInstance(instanceId, instance);
  }

  /** `/unregister` with routing_group and dp_rank: the last rank removes the instance. */
  unregisterDpRank(
    instanceId: bigint,
    dpRank: number,
    modelName: string,
    routingGroup: string,
  ): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new RegistryError(404, `instance ${instanceId} not found`);
    const p = this.partitionsByKey.get(instance.partitionKey)!;
    if (instance.partitionKey !== partitionKey(modelName, routingGroup))
      throw this.registeredElsewhere(instanceId, p);
    const record = instance.listeners.get(dpRank);
    if (!record) throw new RegistryError(404, `instance ${instanceId} dp_rank ${dpRank} not found`);
    instance.listeners.delete(dpRank);
    const closed = this.stopListener(record);
    if (instance.listeners.size === 0) {
      this.instances.delete(instanceId);
      p.index.removeWorker(instanceId);
      this.maybeRemovePartition(instance.partitionKey);
    } else {
      p.index.removeWorkerDpRank(instanceId, dpRank);
    }
    return closed;
  }

  private registeredElsewhere(instanceId: bigint, p: Partition): RegistryError {
    return new RegistryError(
      404,
      `instance ${instanceId} is registered for model=${p.modelName} routing_group=${p.routingGroup}`,
    );
  }

  private removeInstance(instanceId: bigint, instance: Instance): Promise<void> {
    this.instances.delete(instanceId);
    const closing = [...instance.listeners.values()].map((r) => this.stopListener(r));
    const p = this.partitionsByKey.get(instance.partitionKey);
    p?.index.removeWorker(instanceId);
    this.maybeRemovePartition(instance.partitionKey);
    return Promise.all(closing).then(() => {});
  }

  instanceCount(): number {
    return this.instances.size;
  }

  instanceGeneration(instanceId: bigint): string | undefined {
    return this.instances.get(instanceId)?.generation;
  }

  setInstanceGeneration(instanceId: bigint, generation: string | undefined): void {
    const instance = this.instances.get(instanceId);
    if (instance) instance.generation = generation;
  }

  /** Instances of a partition with their listeners' endpoints, for the desired-state diff. */
  instancesOf(
    modelName: string,
    routingGroup?: string,
  ): Array<{
    instanceId: bigint;
    routingGroup: string;
    generation: string | undefined;
    listeners: Map<number, { endpoint: string; replayEndpoint: string | undefined }>;
  }> {
    const out = [];
    for (const [instanceId, instance] of this.instances) {
      const p = this.partitionsByKey.get(instance.partitionKey)!;
      if (p.modelName !== modelName || (routingGroup !== undefined && p.routingGroup !== routingGroup))
        continue;
      const listeners = new Map<number, { endpoint: string; replayEndpoint: string | undefined }>();
      for (const [dp, r] of instance.listeners)
        listeners.set(dp, { endpoint: r.endpoint, replayEndpoint: r.replayEndpoint });
      out.push({ instanceId, routingGroup: p.routingGroup, generation: instance.generation, listeners });
    }
    return out;
  }

  /** Where an instance is registered, if anywhere. */
  instancePartition(instanceId: bigint): Partition | undefined {
    const instance = this.instances.get(instanceId);
    return instance ? this.partitionsByKey.get(instance.partitionKey) : undefined;
  }

  listWorkers(modelName?: string, routingGroup?: string): WorkerInfo[] {
    const out: WorkerInfo[] = [];
    for (const [instanceId, instance] of this.instances) {
      const p = this.partitionsByKey.get(instance.partitionKey)!;
      if (modelName !== undefined && p.modelName !== modelName) continue;
      if (routingGroup !== undefined && p.routingGroup !== routingGroup) continue;
      if (instance.listeners.size === 0) continue;
      const endpoints: Record<string, string> = {};
      const listeners: Record<string, ListenerInfo> = {};
      const ranks = [...instance.listeners.keys()].sort((a, b) => a - b);
      for (const dp of ranks) {
        const r = instance.listeners.get(dp)!;
        endpoints[String(dp)] = r.endpoint;
        const info: ListenerInfo = { endpoint: r.endpoint, status: r.listener?.status() ?? 'pending' };
        const lastError = r.listener?.lastError();
        if (info.status === 'failed' && lastError !== undefined) info.last_error = lastError;
        listeners[String(dp)] = info;
      }
      out.push({
        instance_id: instanceId,
        source: 'zmq',
        status: aggregateStatus(Object.values(listeners).map((l) => l.status)),
        model_name: p.modelName,
        routing_group: p.routingGroup,
        block_size: p.blockSize,
        endpoints,
        listeners,
      });
    }
    return out;
  }

  /** Every listener with its partition, for metrics, /v1/models and /readyz. */
  listeners(): Array<{
    instanceId: bigint;
    dpRank: number;
    partition: Partition;
    status: ListenerStatus;
    stats: ListenerStats;
    since: number;
    endpoint: string;
    lastError: string | undefined;
  }> {
    const out = [];
    for (const [instanceId, instance] of this.instances) {
      const partition = this.partitionsByKey.get(instance.partitionKey)!;
      for (const [dpRank, r] of instance.listeners) {
        out.push({
          instanceId,
          dpRank,
          partition,
          status: r.listener?.status() ?? ('pending' as const),
          stats: r.listener?.stats() ?? EMPTY_STATS,
          since: r.since,
          endpoint: r.endpoint,
          lastError: r.listener?.lastError(),
        });
      }
    }
    return out;
  }

  /** Backpressure from the ingest queue: stop (or resume) reading every listener's socket. */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    for (const instance of this.instances.values()) {
      for (const r of instance.listeners.values()) {
        if (paused) r.listener?.pause?.();
        else r.listener?.resume?.();
      }
    }
  }

  // -- peers --------------------------------------------------------------------------------

  registerPeer(url: string): void {
    this.peerSet.add(url);
  }

  deregisterPeer(url: string): boolean {
    return this.peerSet.delete(url);
  }

  peers(): string[] {
    return [...this.peerSet];
  }

  // -- lifecycle ----------------------------------------------------------------------------

  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const instance of this.instances.values()) {
      for (const r of instance.listeners.values()) closing.push(this.stopListener(r));
    }
    await Promise.all(closing);
  }
}
