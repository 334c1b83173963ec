import type { ModelWorkerSet } from '@kvindex/core';
import { zmqEndpointError } from './endpoint.ts';
import { partitionKey, RegistryError, type WorkerRegistry } from './registry.ts';

/**
 * The operator's interface (`PUT /v1/models/{model}/workers`, body: core's `ModelWorkerSet`): the
 * full desired worker set of one model across its routing groups, applied idempotently. Per
 * routing group, instances not in the set are unregistered; an instance whose generation changed
 * is a new engine process, so it is cleared (unregistered) and registered afresh; otherwise only
 * the listeners whose rank or endpoints changed are replaced. A routing group of the model that is
 * absent from the set loses all its workers. Everything is validated before anything changes.
 */

/** RegistryError with the path of the offending body field, for the route's `field`. */
export class DesiredSetError extends RegistryError {
  readonly field: string | undefined;
  constructor(status: number, message: string, field?: string) {
    super(status, field ? `${field}: ${message}` : message);
    this.field = field;
  }
}

interface Listener {
  endpoint: string;
  replayEndpoint: string | undefined;
}

interface DesiredInstance {
  instanceId: bigint;
  generation: string;
  /** dp_rank -> endpoints */
  listeners: Map<number, Listener>;
  /** Index of the instance's first entry in `workers`, for error fields. */
  at: number;
}

interface DesiredGroup {
  routingGroup: string;
  blockSize: number;
  instances: DesiredInstance[];
}

export interface GroupOutcome {
  routing_group: string;
  added: bigint[];
  removed: bigint[];
  restarted: bigint[];
  updated: bigint[];
  unchanged: bigint[];
}

export interface ApplyOutcome {
  model_name: string;
  generation?: string;
  /** Totals over the routing groups below. */
  added: bigint[];
  removed: bigint[];
  restarted: bigint[];
  updated: bigint[];
  unchanged: bigint[];
  routing_groups: GroupOutcome[];
  peers: string[];
}

/** Peers recorded per model, so that a model's later set can withdraw the ones it dropped. */
const peersByRegistry = new WeakMap<WorkerRegistry, Map<string, Set<string>>>();

/** Groups the (instance, rank) entries into instances per routing group; throws on disagreement. */
function groupSet(set: ModelWorkerSet): DesiredGroup[] {
  const groups = new Map<string, DesiredGroup>();
  const instances = new Map<bigint, { group: DesiredGroup; instance: DesiredInstance }>();
  set.workers.forEach((w, i) => {
    const at = `workers[${i}]`;
    const e = zmqEndpointError(w.endpoint);
    if (e) throw new DesiredSetError(400, e, `${at}.endpoint`);
    if (w.replay_endpoint !== undefined) {
      const r = zmqEndpointError(w.replay_endpoint);
      if (r) throw new DesiredSetError(400, `invalid replay endpoint: ${r}`, `${at}.replay_endpoint`);
    }
    let group = groups.get(w.routing_group);
    if (!group) {
      group = { routingGroup: w.routing_group, blockSize: w.block_size, instances: [] };
      groups.set(w.routing_group, group);
    } else if (group.blockSize !== w.block_size) {
      throw new DesiredSetError(
        422,
        `block_size ${w.block_size} disagrees with ${group.blockSize} of another worker of routing_group ${w.routing_group}`,
        `${at}.block_size`,
      );
    }
    const known = instances.get(w.instance_id);
    if (!known) {
      const instance: DesiredInstance = {
        instanceId: w.instance_id,
        generation: w.generation,
        listeners: new Map(),
        at: i,
      };
      group.instances.push(instance);
      instances.set(w.instance_id, { group, instance });
    } else if (known.group !== group) {
      throw new DesiredSetError(
        422,
        `instance ${w.instance_id} is also in routing_group ${known.group.routingGroup} (workers[${known.instance.at}])`,
        `${at}.routing_group`,
      );
    } else if (known.instance.generation !== w.generation) {
      throw new DesiredSetError(
        422,
        `instance ${w.instance_id} has generation ${JSON.stringify(known.instance.generation)} at workers[${known.instance.at}]`,
        `${at}.generation`,
      );
    }
    instances.get(w.instance_id)!.instance.listeners.set(w.dp_rank, {
      endpoint: w.endpoint,
      replayEndpoint: w.replay_endpoint,
    });
  });
  return [...groups.values()];
}

function validateGroup(registry: WorkerRegistry, modelName: string, group: DesiredGroup): void {
  const { routingGroup, blockSize } = group;
  const existing = registry.partition(modelName, routingGroup);
  if (existing && existing.blockSize !== blockSize) {
    // Only new engine processes may bring a new block size: a same-generation survivor cannot.
    const current = new Map(registry.instancesOf(modelName, routingGroup).map((c) => [c.instanceId, c]));
    const survivor = group.instances.find((w) => current.get(w.instanceId)?.generation === w.generation);
    if (survivor) {
      throw new DesiredSetError(
        409,
        `block_size mismatch for model=${modelName} routing_group=${routingGroup}: existing=${existing.blockSize}, requested=${blockSize}`,
        `workers[${survivor.at}].block_size`,
      );
    }
  }
  for (const w of group.instances) {
    const elsewhere = registry.instancePartition(w.instanceId);
    if (
      elsewhere &&
      partitionKey(elsewhere.modelName, elsewhere.routingGroup) !== partitionKey(modelName, routingGroup) &&
      // Moving between routing groups of this model is allowed: the old group is emptied first.
      elsewhere.modelName !== modelName
    ) {
      throw new DesiredSetError(
        409,
        `instance ${w.instanceId} is already registered for model=${elsewhere.modelName} routing_group=${elsewhere.routingGroup}`,
        `workers[${w.at}].instance_id`,
      );
    }
  }
}

/** Validates the whole set, then applies it; nothing changes when validation fails. */
export function applyModelWorkerSet(
  registry: WorkerRegistry,
  modelName: string,
  set: ModelWorkerSet,
): ApplyOutcome {
  const groups = groupSet(set);
  for (const g of groups) validateGroup(registry, modelName, g);
  const wantedGroups = new Set(groups.map((g) => g.routingGroup));
  const outcome: ApplyOutcome = {
    model_name: modelName,
    ...(set.generation !== undefined ? { generation: set.generation } : {}),
    added: [],
    removed: [],
    restarted: [],
    updated: [],
    unchanged: [],
    routing_groups: [],
    peers: [],
  };
  // Disappearing groups first, and instances leaving a group before they join another.
  const wantedIds = new Map<bigint, string>();
  for (const g of groups) for (const w of g.instances) wantedIds.set(w.instanceId, g.routingGroup);
  for (const p of registry.partitions()) {
    if (p.modelName !== modelName) continue;
    const gone: GroupOutcome = emptyGroupOutcome(p.routingGroup);
    for (const c of registry.instancesOf(modelName, p.routingGroup)) {
      const target = wantedIds.get(c.instanceId);
      if (wantedGroups.has(p.routingGroup) && target === p.routingGroup) continue;
      void registry.unregister(c.instanceId, modelName, p.routingGroup);
      gone.removed.push(c.instanceId);
    }
    // A group that left the set, or instances that moved to another group of the model.
    if (gone.removed.length > 0) outcome.routing_groups.push(gone);
  }
  for (const g of groups) outcome.routing_groups.push(applyGroup(registry, modelName, g));
  for (const g of outcome.routing_groups) {
    outcome.added.push(...g.added);
    outcome.removed.push(...g.removed);
    outcome.restarted.push(...g.restarted);
    outcome.updated.push(...g.updated);
    outcome.unchanged.push(...g.unchanged);
  }
  outcome.peers = recordPeers(registry, modelName, set.peers);
  return outcome;
}

function emptyGroupOutcome(routingGroup: string): GroupOutcome {
  return { routing_group: routingGroup, added: [], removed: [], restarted: [], updated: [], unchanged: [] };
}

function recordPeers(registry: WorkerRegistry, modelName: string, peers: string[]): string[] {
  let byModel = peersByRegistry.get(registry);
  if (!byModel) {
    byModel = new Map();
    peersByRegistry.set(registry, byModel);
  }
  const before = byModel.get(modelName) ?? new Set<string>();
  const after = new Set(peers);
  for (const p of before) {
    if (after.has(p)) continue;
    const stillWanted = [...byModel].some(([m, s]) => m !== modelName && s.has(p));
    if (!stillWanted) registry.deregisterPeer(p);
  }
  for (const p of after) registry.registerPeer(p);
  byModel.set(modelName, after);
  return [...after];
}

function applyGroup(registry: WorkerRegistry, modelName: string, desired: DesiredGroup): GroupOutcome {
  const { routingGroup, blockSize } = desired;
  const outcome = emptyGroupOutcome(routingGroup);
  const current = new Map(registry.instancesOf(modelName, routingGroup).map((c) => [c.instanceId, c]));
  const existing = registry.partition(modelName, routingGroup);
  // A block size change needs an empty partition: every current instance goes first.
  const resetAll = existing !== undefined && existing.blockSize !== blockSize;
  const wanted = new Map(desired.instances.map((w) => [w.instanceId, w]));
  for (const [id, c] of current) {
    const w = wanted.get(id);
    if (!w) {
      void registry.unregister(id, modelName, routingGroup);
      outcome.removed.push(id);
    } else if (resetAll || c.generation !== w.generation) {
      void registry.unregister(id, modelName, routingGroup);
      outcome.restarted.push(id);
    }
  }
  const register = (id: bigint, dp: number, l: Listener) =>
    registry.register({
      instanceId: id,
      endpoint: l.endpoint,
      replayEndpoint: l.replayEndpoint,
      modelName,
      routingGroup,
      blockSize,
      dpRank: dp,
    });
  for (const w of desired.instances) {
    const c = current.get(w.instanceId);
    if (!c || outcome.restarted.includes(w.instanceId)) {
      for (const [dp, l] of w.listeners) register(w.instanceId, dp, l);
      registry.setInstanceGeneration(w.instanceId, w.generation);
      if (!c) outcome.added.push(w.instanceId);
      continue;
    }
    let changed = false;
    // New and re-pointed ranks first, dropped ranks last: removing the last rank of an instance
    // removes the worker from the index, which must not happen to one that keeps other ranks.
    for (const [dp, l] of w.listeners) {
      const had = c.listeners.get(dp);
      if (had && had.endpoint === l.endpoint && had.replayEndpoint === l.replayEndpoint) continue;
      if (had) void registry.unregisterDpRank(w.instanceId, dp, modelName, routingGroup);
      register(w.instanceId, dp, l);
      changed = true;
    }
    for (const dp of c.listeners.keys()) {
      if (w.listeners.has(dp)) continue;
      void registry.unregisterDpRank(w.instanceId, dp, modelName, routingGroup);
      changed = true;
    }
    (changed ? outcome.updated : outcome.unchanged).push(w.instanceId);
  }
  return outcome;
}
