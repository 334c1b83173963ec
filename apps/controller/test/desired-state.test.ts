import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexerDeploymentCrd } from '../src/api/crd.ts';
import type { IndexerDeployment } from '../src/api/indexer-deployment.ts';
import { desiredState } from '../src/desired/desired-state.ts';
import type { InferencePoolView } from '../src/desired/discover-workers.ts';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';
import { installCrd } from './support/crds.ts';
import { inferencePoolCrd } from './support/inference-pool-crd.ts';

// desiredState over objects as a real apiserver returns them (defaults applied, typed by
// @kubernetes/client-node): a selector and an InferencePool over the same pods find the same fleet.

const ns = 'fleet';

describe('desired state from a real apiserver', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  async function createServingPod(name: string, ip: string, annotations?: Record<string, string>) {
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name,
          labels: { app: 'vllm', 'kvindex.io/model': 'llama' },
          ...(annotations && { annotations }),
        },
        spec: {
          // Bound to a node, as the scheduler would: only bound pods are deleted gracefully.
          nodeName: 'gpu-node-1',
          containers: [
            {
              name: 'engine',
              image: 'vllm/vllm-openai',
              args: [
                '--kv-events-config',
                '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557"}',
              ],
              ports: [
                { name: 'http', containerPort: 8000 },
                { name: 'kv-events', containerPort: 5557 },
              ],
            },
          ],
        },
      },
    });
    // Play kubelet.
    return core.replaceNamespacedPodStatus({
      name,
      namespace: ns,
      body: {
        ...pod,
        status: {
          phase: 'Running',
          podIP: ip,
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [{ name: 'engine', image: 'vllm', imageID: '', ready: true, restartCount: 1 }],
        },
      },
    });
  }

  async function createIdxd(name: string, workers: unknown): Promise<IndexerDeployment> {
    return (await custom.createNamespacedCustomObject({
      group: 'kvindex.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'indexerdeployments',
      body: {
        apiVersion: 'kvindex.io/v1alpha1',
        kind: 'IndexerDeployment',
        metadata: { name },
        spec: { workers },
      },
    })) as IndexerDeployment;
  }

  beforeAll(async () => {
    plane = await startControlPlane();
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    await installCrd(plane, indexerDeploymentCrd());
    await installCrd(plane, inferencePoolCrd);
    await core.createNamespace({ body: { metadata: { name: ns } } });
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
  }, 30_000);

  it('finds the same workers through a selector and through an InferencePool', async () => {
    await createServingPod('vllm-0', '127.0.0.2', { 'inference.networking.k8s.io/active-ports': '8000' });
    await createServingPod('vllm-1', '127.0.0.3', { 'kvindex.io/data-parallel-size': '1' });
    const notReady = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'vllm-2', labels: { app: 'vllm', 'kvindex.io/model': 'llama' } },
        spec: { containers: [{ name: 'engine', image: 'vllm' }] },
      },
    });
    expect(notReady.status?.phase).toBe('Pending');

    await custom.createNamespacedCustomObject({
      group: 'inference.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'inferencepools',
      body: {
        apiVersion: 'inference.networking.k8s.io/v1',
        kind: 'InferencePool',
        metadata: { name: 'llama-pool' },
        spec: {
          selector: { matchLabels: { app: 'vllm' } },
          targetPorts: [{ number: 8000 }],
          endpointPickerRef: { name: 'epp' },
        },
      },
    });
    const pool = (await custom.getNamespacedCustomObject({
      group: 'inference.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'inferencepools',
      name: 'llama-pool',
    })) as { spec: { selector: { matchLabels: Record<string, string> }; targetPorts: { number: number }[] } };
    const poolView: InferencePoolView = {
      selector: pool.spec.selector.matchLabels,
      targetPorts: pool.spec.targetPorts.map((p) => p.number),
    };

    const bySelector = await createIdxd('by-selector', { selector: { matchLabels: { app: 'vllm' } } });
    const byPool = await createIdxd('by-pool', { poolRef: { name: 'llama-pool' } });
    const pods: V1Pod[] = (await core.listNamespacedPod({ namespace: ns })).items;
    expect(pods).toHaveLength(3);

    const image = 'kvindex/data-plane:test';
    const fromSelector = desiredState({ idxd: bySelector, pods, indexerPods: [], image });
    const fromPool = desiredState({ idxd: byPool, pods, pool: poolView, indexerPods: [], image });
    expect(fromSelector.failedWorkers).toEqual([]);
    expect(fromSelector.models.map((m) => m.model)).toEqual(['llama']);
    const endpoints = (s: typeof fromSelector) =>
      s.models[0]!.workers.map((w) => [w.endpoint, w.dp_rank, w.block_size, w.routing_group]);
    expect(endpoints(fromSelector)).toEqual([
      ['tcp://127.0.0.2:5557', 0, 16, 'default'],
      ['tcp://127.0.0.3:5557', 0, 16, 'default'],
    ]);
    expect(endpoints(fromPool)).toEqual(endpoints(fromSelector));
    const uid = pods.find((p) => p.metadata?.name === 'vllm-0')!.metadata!.uid;
    expect(fromSelector.models[0]!.workers[0]!.generation).toBe(`${uid}:1`);
    expect(fromPool.models[0]!.deployment.metadata?.ownerReferences?.[0]?.uid).toBe(byPool.metadata.uid);
  });

  it('drops a pod that is being deleted', async () => {
    await core.deleteNamespacedPod({ name: 'vllm-1', namespace: ns, gracePeriodSeconds: 30 });
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    const leaving = pods.find((p) => p.metadata?.name === 'vllm-1');
    // No kubelet confirms the deletion, so the pod stays for its grace period, marked for deletion.
    expect(leaving?.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    const idxd = (await custom.getNamespacedCustomObject({
      group: 'kvindex.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'indexerdeployments',
      name: 'by-selector',
    })) as IndexerDeployment;
    const state = desiredState({ idxd, pods, indexerPods: [], image: 'x' });
    expect(state.models[0]!.workers.map((w) => w.endpoint)).toEqual(['tcp://127.0.0.2:5557']);
  });
});
