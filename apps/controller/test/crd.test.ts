import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { indexerDeploymentCrd } from '../src/api/crd.ts';
import { specWith } from '../src/desired/test-support/fixtures.ts';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';
import { installCrd } from './support/crds.ts';

// The emitted CRD against a real kube-apiserver: it is accepted, defaults and validates the way the
// controller's types assume, and kubectl shows the printer columns.

const ns = 'crd-test';
const collection = `/apis/kvindex.io/v1alpha1/namespaces/${ns}/indexerdeployments`;

function cr(name: string, spec: unknown) {
  return {
    apiVersion: 'kvindex.io/v1alpha1',
    kind: 'IndexerDeployment',
    metadata: { name, namespace: ns },
    spec,
  };
}

describe('IndexerDeployment CRD on a real apiserver', () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane();
    await installCrd(plane, indexerDeploymentCrd());
    await plane.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
  }, 30_000);

  it('fills every default, matching the types the controller reads', async () => {
    const created = await plane.request(collection, {
      method: 'POST',
      body: cr('minimal', { workers: { selector: { matchLabels: { app: 'vllm' } } } }),
    });
    expect(created.status, created.body).toBe(201);
    expect(JSON.parse(created.body).spec).toEqual(specWith());
  });

  it("accepts the chart's example", async () => {
    const path = resolve(import.meta.dirname, '../../../charts/kvindex/examples/indexerdeployment.yaml');
    const example = parse(readFileSync(path, 'utf8')) as { metadata: { namespace: string } };
    example.metadata.namespace = ns;
    const created = await plane.request(collection, { method: 'POST', body: example });
    expect(created.status, created.body).toBe(201);
    expect(JSON.parse(created.body).spec.indexer.resources).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
    });
  });

  it('serves the short name, the status subresource and the printer columns', async () => {
    const discovery = JSON.parse((await plane.request('/apis/kvindex.io/v1alpha1')).body) as {
      resources: { name: string; shortNames?: string[]; categories?: string[] }[];
    };
    expect(discovery.resources.map((r) => r.name).sort()).toEqual([
      'indexerdeployments',
      'indexerdeployments/status',
    ]);
    expect(discovery.resources.find((r) => r.name === 'indexerdeployments')?.shortNames).toEqual(['idxd']);

    const status = {
      observedGeneration: 1,
      modelCount: 2,
      workers: 70,
      replicas: 4,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'AllSubscribed',
          message: 'ok',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    };
    const current = JSON.parse((await plane.request(`${collection}/minimal`)).body);
    // Status written through the main resource is ignored; through the subresource it sticks.
    const ignored = await plane.request(`${collection}/minimal`, {
      method: 'PUT',
      body: { ...current, status },
    });
    expect(ignored.status, ignored.body).toBe(200);
    expect(JSON.parse(ignored.body).status).toBeUndefined();
    const written = await plane.request(`${collection}/minimal/status`, {
      method: 'PUT',
      body: { ...JSON.parse(ignored.body), status },
    });
    expect(written.status, written.body).toBe(200);

    const table = JSON.parse(
      (
        await plane.request(collection, {
          headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
        })
      ).body,
    ) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Models',
      'Workers',
      'Ready',
      'Replicas',
      'Age',
    ]);
    const row = table.rows.find((r) => r.cells[0] === 'minimal');
    expect(row?.cells.slice(0, 5)).toEqual(['minimal', 2, 70, 'True', 4]);
  });

  it.each([
    [
      'both worker sources',
      { workers: { selector: { matchLabels: { app: 'v' } }, poolRef: { name: 'p' } } },
      'spec.workers: Invalid value: exactly one of workers.selector or workers.poolRef must be set',
    ],
    ['no worker source', { workers: {} }, 'exactly one of workers.selector or workers.poolRef must be set'],
    [
      'min above max',
      { workers: { poolRef: { name: 'p' } }, indexer: { replicas: { min: 5, max: 2 } } },
      'spec.indexer.replicas: Invalid value: replicas.min must not exceed replicas.max',
    ],
    [
      'min above the default max',
      { workers: { poolRef: { name: 'p' } }, indexer: { replicas: { min: 5 } } },
      'replicas.min must not exceed replicas.max',
    ],
    [
      'a port name with capitals',
      { workers: { poolRef: { name: 'p' } }, events: { zmq: { port: 'KV_events' } } },
      'spec.events.zmq.port: Invalid value: "KV_events": must be a port number (1-65535) or a container port name',
    ],
    [
      'a port number out of range',
      { workers: { poolRef: { name: 'p' } }, events: { zmq: { port: 70000 } } },
      'spec.events.zmq.port: Invalid value: 70000: must be a port number (1-65535)',
    ],
    [
      'a replay port name that is too long',
      { workers: { poolRef: { name: 'p' } }, events: { zmq: { replayPort: 'a-very-long-port-name' } } },
      'spec.events.zmq.replayPort',
    ],
    [
      'nats without its settings',
      { workers: { poolRef: { name: 'p' } }, events: { transport: 'nats' } },
      'events.nats is required when events.transport is nats',
    ],
    [
      'an unknown transport',
      { workers: { poolRef: { name: 'p' } }, events: { transport: 'kafka' } },
      'spec.events.transport: Unsupported value: "kafka": supported values: "zmq", "nats"',
    ],
    [
      'an empty selector',
      { workers: { selector: { matchLabels: {} } } },
      'spec.workers.selector.matchLabels: Invalid value: 0: spec.workers.selector.matchLabels in body should have at least 1 properties',
    ],
    [
      'block size 0',
      { workers: { poolRef: { name: 'p' } }, blockSize: 0 },
      'spec.blockSize: Invalid value: 0: spec.blockSize in body should be greater than or equal to 1',
    ],
    ['no spec', undefined, 'spec: Required value'],
  ])('rejects %s with a clear message', async (name, spec, message) => {
    const slug = name.replace(/[^a-z0-9]+/g, '-');
    const body = spec === undefined ? { ...cr(slug, {}), spec: undefined } : cr(slug, spec);
    const response = await plane.request(collection, { method: 'POST', body });
    expect(response.status, response.body).toBe(422);
    expect(JSON.parse(response.body).message).toContain(message);
  });
});
