import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexerDeploymentCrd } from '../src/api/crd.ts';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';
import { type ControllerProcess, metric, startControllerProcess } from './support/controller-process.ts';
import { installCrd } from './support/crds.ts';
import { waitFor } from './support/fleet.ts';

// Two controller replicas against one apiserver: one holds the coordination.k8s.io Lease and
// reconciles, the other only keeps warm caches; SIGTERM hands the Lease over at once, a crash
// (SIGKILL) after the lease duration. Short timings (4 s / 3 s / 0.5 s) keep the test quick; the
// defaults are 15 s / 10 s / 2 s.

const ns = 'kvindex-system';
const timing = ['--lease-duration', '4', '--renew-deadline', '3', '--retry-period', '0.5'];

describe('leader election', () => {
  let plane: ControlPlane;
  let coordination: CoordinationV1Api;
  let custom: CustomObjectsApi;
  let apps: AppsV1Api;
  const logDir = mkdtempSync(join(tmpdir(), 'kvindex-leader-'));
  const processes: ControllerProcess[] = [];

  const start = async (name: string) => {
    const p = await startControllerProcess(plane.kubeConfigFile, logDir, name, [
      '--leader-election-namespace',
      ns,
      ...timing,
    ]);
    processes.push(p);
    return p;
  };
  const holder = async () =>
    (await coordination.readNamespacedLease({ name: 'kvindex-controller', namespace: ns })).spec
      ?.holderIdentity;
  const isLeader = async (p: ControllerProcess) =>
    (await metric(p.url, 'kvindex_controller_is_leader')) === 1;
  const createIdxd = (name: string, app: string) =>
    custom.createNamespacedCustomObject({
      group: 'kvindex.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'indexerdeployments',
      body: {
        apiVersion: 'kvindex.io/v1alpha1',
        kind: 'IndexerDeployment',
        metadata: { name },
        spec: { model: 'm', workers: { selector: { matchLabels: { app } } } },
      },
    });
  /** A worker pod the CR selects, so the leader has a Deployment to create. */
  const createWorkerPod = async (name: string, app: string) => {
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, labels: { app } },
        spec: {
          containers: [
            {
              name: 'engine',
              image: 'vllm',
              args: [
                '--kv-events-config',
                '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557"}',
              ],
              ports: [{ name: 'kv-events', containerPort: 5557 }],
            },
          ],
        },
      },
    });
    await core.replaceNamespacedPodStatus({
      name,
      namespace: ns,
      body: {
        ...pod,
        status: { phase: 'Running', podIP: '127.0.7.1', conditions: [{ type: 'Ready', status: 'True' }] },
      },
    });
  };

  beforeAll(async () => {
    plane = await startControlPlane();
    coordination = plane.kubeConfig.makeApiClient(CoordinationV1Api);
    custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    await installCrd(plane, indexerDeploymentCrd());
    await plane.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await plane?.stop();
  }, 60_000);

  it('one leader reconciles; SIGTERM releases the Lease and the standby takes over at once', async () => {
    const a = await start('replica-a');
    await waitFor('replica-a to lead', () => isLeader(a));
    const b = await start('replica-b');
    await waitFor('replica-b caches', async () => (await fetch(`${b.url}/readyz`)).ok);
    expect(await holder()).toBe('replica-a');
    expect(await isLeader(b)).toBe(false);

    await createWorkerPod('w-1', 'one');
    await createIdxd('one', 'one');
    await waitFor('the leader to create a Deployment', () =>
      apps.readNamespacedDeployment({ name: 'one-m', namespace: ns }),
    );
    expect(await metric(a.url, 'kvindex_controller_reconciles_total')).toBeGreaterThan(0);
    expect(await metric(b.url, 'kvindex_controller_reconciles_total')).toBe(0);

    const stoppedAt = Date.now();
    expect(await a.stop('SIGTERM')).toBe(0);
    expect(a.log()).toContain('released the lease');
    await waitFor('replica-b to lead', () => isLeader(b));
    const takeover = Date.now() - stoppedAt;
    console.log(`failover after SIGTERM: ${takeover} ms`);
    // A released lease is free at once: the standby needs at most one retry period (0.5 s) plus a tick.
    expect(takeover).toBeLessThan(3_000);
    expect(await holder()).toBe('replica-b');

    await createWorkerPod('w-2', 'two');
    await createIdxd('two', 'two');
    await waitFor('the new leader to reconcile', () =>
      apps.readNamespacedDeployment({ name: 'two-m', namespace: ns }),
    );
  }, 60_000);

  it('a crashed leader (SIGKILL) is replaced within the lease duration', async () => {
    const b = processes.find((p) => p.logFile.endsWith('replica-b.log'))!;
    const c = await start('replica-c');
    await waitFor('replica-c caches', async () => (await fetch(`${c.url}/readyz`)).ok);
    expect(await isLeader(c)).toBe(false);
    const killedAt = Date.now();
    await b.stop('SIGKILL');
    await waitFor('replica-c to lead', () => isLeader(c), 15_000, 100);
    const takeover = Date.now() - killedAt;
    console.log(`failover after SIGKILL: ${takeover} ms (lease 4 s)`);
    expect(takeover).toBeGreaterThan(2_000);
    expect(takeover).toBeLessThan(4_000 + 2 * 500 + 1_000);
    expect(await holder()).toBe('replica-c');
  }, 60_000);
});
