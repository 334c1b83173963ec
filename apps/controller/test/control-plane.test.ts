import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';

// The harness itself: a real etcd + kube-apiserver (+ kube-controller-manager) that stores and
// serves objects, and a kubelet stand-in that sets pod status through the status subresource.

describe('test control plane', () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane({ controllerManager: true });
    console.log(`kube-apiserver ready in ${plane.apiserverStartMs} ms`);
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
  }, 30_000);

  it('creates a namespace and a pod and reads them back', async () => {
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'smoke' } } });
    const pod: V1Pod = {
      metadata: { name: 'engine-0', namespace: 'smoke', labels: { app: 'vllm' } },
      spec: { containers: [{ name: 'engine', image: 'vllm/vllm-openai:latest' }] },
    };
    const created = await core.createNamespacedPod({ namespace: 'smoke', body: pod });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

    // Play kubelet: Running, Ready, a loopback podIP.
    await core.replaceNamespacedPodStatus({
      name: 'engine-0',
      namespace: 'smoke',
      body: {
        ...created,
        status: {
          phase: 'Running',
          podIP: '127.0.0.2',
          podIPs: [{ ip: '127.0.0.2' }],
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [
            { name: 'engine', image: 'vllm', imageID: '', ready: true, restartCount: 3, started: true },
          ],
        },
      },
    });

    const ns = await core.readNamespace({ name: 'smoke' });
    expect(ns.status?.phase).toBe('Active');
    const read = await core.readNamespacedPod({ name: 'engine-0', namespace: 'smoke' });
    expect(read.metadata?.labels).toEqual({ app: 'vllm' });
    expect(read.status?.podIP).toBe('127.0.0.2');
    expect(read.status?.containerStatuses?.[0]?.restartCount).toBe(3);
    const list = await core.listNamespacedPod({ namespace: 'smoke', labelSelector: 'app=vllm' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['engine-0']);
  });

  it('runs real controllers: a Deployment gets a ReplicaSet and pods', async () => {
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'smoke',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx' }] },
          },
        },
      },
    });
    let pods: V1Pod[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      pods = (await core.listNamespacedPod({ namespace: 'smoke', labelSelector: 'app=web' })).items;
      if (pods.length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pods).toHaveLength(2);
    expect(pods[0]?.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
  }, 30_000);

  it('survives an apiserver restart with its state', async () => {
    await plane.restartApiserver();
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const read = await core.readNamespacedPod({ name: 'engine-0', namespace: 'smoke' });
    expect(read.status?.podIP).toBe('127.0.0.2');
  }, 90_000);
});
