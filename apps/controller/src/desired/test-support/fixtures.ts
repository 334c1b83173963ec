import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { IndexerDeployment, IndexerDeploymentSpec } from '../../api/indexer-deployment.ts';

/** A spec as the apiserver returns it: every default filled in. */
export function specWith(overrides: Partial<IndexerDeploymentSpec> = {}): IndexerDeploymentSpec {
  return {
    workers: {
      selector: { matchLabels: { app: 'vllm' } },
      modelLabel: 'kvindex.io/model',
      routingGroupLabel: '',
    },
    blockSize: 16,
    events: { transport: 'zmq', zmq: { port: 'kv-events' } },
    indexer: { replicas: { min: 1, max: 4 }, workersPerReplica: 32, snapshots: { enabled: false } },
    workerDeletionCost: false,
    ...overrides,
  };
}

export function idxdWith(spec: IndexerDeploymentSpec, name = 'llama-fleet'): IndexerDeployment {
  return {
    apiVersion: 'kvindex.io/v1alpha1',
    kind: 'IndexerDeployment',
    metadata: { name, namespace: 'inference', uid: '5f0c3e0e-0000-4000-8000-000000000001', generation: 1 },
    spec,
  };
}

export interface PodOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ip?: string;
  phase?: string;
  ready?: boolean;
  deleting?: boolean;
  uid?: string;
  containers?: V1Container[];
  restarts?: Record<string, number>;
}

export function engineContainerWith(extra: Partial<V1Container> = {}): V1Container {
  return {
    name: 'engine',
    image: 'vllm/vllm-openai',
    ports: [
      { name: 'http', containerPort: 8000 },
      { name: 'kv-events', containerPort: 5557 },
      { name: 'kv-replay', containerPort: 5567 },
    ],
    ...extra,
  };
}

let uidCounter = 0;

/** A worker pod as the apiserver would store it after kubelet reported status. */
export function workerPod(name: string, options: PodOptions = {}): V1Pod {
  const containers = options.containers ?? [engineContainerWith()];
  return {
    metadata: {
      name,
      namespace: 'inference',
      uid: options.uid ?? `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`,
      labels: options.labels ?? { app: 'vllm', 'kvindex.io/model': 'llama-3-8b' },
      ...(options.annotations && { annotations: options.annotations }),
      ...(options.deleting && { deletionTimestamp: new Date('2026-01-01T00:00:00Z') }),
    },
    spec: { containers },
    status: {
      phase: options.phase ?? 'Running',
      ...(options.ip !== '' && { podIP: options.ip ?? '10.0.0.1' }),
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: true,
        restartCount: options.restarts?.[c.name] ?? 0,
      })),
    },
  };
}

/** A data-plane pod of one model's indexer. */
export function indexerPod(name: string, indexer: string, ip: string, ready = true): V1Pod {
  return {
    metadata: { name, namespace: 'inference', labels: { 'kvindex.io/indexer': indexer } },
    spec: { containers: [{ name: 'indexer', image: 'kvindex' }] },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}
