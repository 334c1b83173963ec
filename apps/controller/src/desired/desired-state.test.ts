import { describe, expect, it } from 'vitest';
import { desiredState, replicasFor } from './desired-state.ts';
import { idxdWith, indexerPod, specWith, workerPod } from './test-support/fixtures.ts';

const image = 'ghcr.io/kvindex/data-plane:test';

function fleet(count: number, model = 'llama-3-8b', prefix = 'vllm') {
  return Array.from({ length: count }, (_, i) =>
    workerPod(`${prefix}-${String(i).padStart(3, '0')}`, {
      ip: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      labels: { app: 'vllm', 'kvindex.io/model': model },
    }),
  );
}

describe('replicasFor', () => {
  it.each([
    [0, 32, 1, 4, 1],
    [1, 32, 1, 4, 1],
    [32, 32, 1, 4, 1],
    [33, 32, 1, 4, 2],
    [70, 32, 1, 4, 3],
    [1000, 32, 1, 4, 4],
    [5, 1, 2, 3, 3],
  ])('clamp(ceil(%i / %i), %i, %i) = %i', (workers, per, min, max, want) => {
    expect(replicasFor(workers, per, min, max)).toBe(want);
  });
});

describe('desiredState', () => {
  it('makes one Deployment and Service per model, owned by the IndexerDeployment', () => {
    const idxd = idxdWith(specWith());
    const state = desiredState({
      idxd,
      pods: [...fleet(70), ...fleet(2, 'qwen', 'q')],
      indexerPods: [],
      image,
    });
    expect(state.models.map((m) => [m.model, m.name, m.workerPods, m.replicas])).toEqual([
      ['llama-3-8b', 'llama-fleet-llama-3-8b', 70, 3],
      ['qwen', 'llama-fleet-qwen', 2, 1],
    ]);
    const { deployment, service } = state.models[0]!;
    const owner = {
      apiVersion: 'kvindex.io/v1alpha1',
      kind: 'IndexerDeployment',
      name: 'llama-fleet',
      uid: idxd.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    expect(deployment.metadata?.ownerReferences).toEqual([owner]);
    expect(service.metadata?.ownerReferences).toEqual([owner]);
    expect(deployment.metadata?.namespace).toBe('inference');
    expect(deployment.spec?.replicas).toBe(3);
    expect(deployment.spec?.selector.matchLabels).toEqual({ 'kvindex.io/indexer': 'llama-fleet-llama-3-8b' });
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(deployment.spec!.selector.matchLabels!);
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    const container = pod.containers[0]!;
    expect(container.image).toBe(image);
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(service.spec?.selector).toEqual(deployment.spec!.selector.matchLabels);
    expect(service.spec?.ports?.[0]).toMatchObject({ name: 'http', port: 8090, targetPort: 'http' });
    expect(state.models[0]!.workers).toHaveLength(70);
  });

  it('leaves replicas to a HorizontalPodAutoscaler when asked', () => {
    const spec = specWith();
    spec.indexer.autoscaling = { hpa: {} };
    spec.indexer.replicas = { min: 2, max: 6 };
    spec.indexer.image = 'custom:1';
    spec.indexer.resources = { requests: { cpu: '500m', memory: 2 } };
    const [model] = desiredState({ idxd: idxdWith(spec), pods: fleet(3), indexerPods: [], image }).models;
    expect(model!.deployment.spec?.replicas).toBeUndefined();
    expect(model!.autoscaler?.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llama-fleet-llama-3-8b' },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    });
    const container = model!.deployment.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('custom:1');
    expect(container.resources).toEqual({ requests: { cpu: '500m', memory: '2' } });
  });

  it('feeds every ready indexer replica the full worker set, with the others as peers', () => {
    const name = 'llama-fleet-llama-3-8b';
    const indexers = [
      indexerPod('idx-a', name, '10.9.0.1'),
      indexerPod('idx-b', name, '10.9.0.2'),
      indexerPod('idx-c', name, '10.9.0.3', false),
      indexerPod('other', 'llama-fleet-qwen', '10.9.0.4'),
    ];
    const [model] = desiredState({
      idxd: idxdWith(specWith()),
      pods: fleet(3),
      indexerPods: indexers,
      image,
    }).models;
    expect(model!.readyReplicas).toBe(2);
    expect(model!.feeds.map((f) => [f.pod, f.url, f.body.peers])).toEqual([
      ['idx-a', 'http://10.9.0.1:8090/v1/models/llama-3-8b/workers', ['http://10.9.0.2:8090']],
      ['idx-b', 'http://10.9.0.2:8090/v1/models/llama-3-8b/workers', ['http://10.9.0.1:8090']],
    ]);
    expect(model!.feeds[0]!.body.workers).toEqual(model!.workers);
    expect(model!.feeds[0]!.body.workers.map((w) => w.endpoint)).toEqual([
      'tcp://10.0.0.1:5557',
      'tcp://10.0.0.2:5557',
      'tcp://10.0.0.3:5557',
    ]);
    expect(model!.feeds[0]!.body.generation).toBe(model!.feeds[1]!.body.generation);
  });

  it('changes the set generation exactly when the worker set changes', () => {
    const indexers = [indexerPod('idx-a', 'llama-fleet-llama-3-8b', '10.9.0.1')];
    const run = (pods: ReturnType<typeof fleet>) =>
      desiredState({ idxd: idxdWith(specWith()), pods, indexerPods: indexers, image }).models[0]!.feeds[0]!
        .body.generation;
    const pods = fleet(3);
    expect(run([...pods].reverse())).toBe(run(pods));
    expect(run(pods.slice(0, 2))).not.toBe(run(pods));
    const restarted = fleet(3);
    restarted[1]!.metadata!.uid = pods[1]!.metadata!.uid;
    restarted[0]!.metadata!.uid = pods[0]!.metadata!.uid;
    restarted[2]!.metadata!.uid = pods[2]!.metadata!.uid;
    expect(run(restarted)).toBe(run(pods));
    restarted[1]!.status!.containerStatuses![0]!.restartCount = 1;
    expect(run(restarted)).not.toBe(run(pods));
  });

  it('names children of models that are not DNS labels by a hash, and escapes the model in URLs', () => {
    const pods = fleet(1, 'Llama-3.1-8B');
    const indexers = (name: string) => [indexerPod('idx', name, '10.9.0.1')];
    const first = desiredState({ idxd: idxdWith(specWith()), pods, indexerPods: [], image }).models[0]!;
    expect(first.name).toMatch(/^llama-fleet-llama-3-1-8b-[0-9a-f]{8}$/);
    const spec = specWith({ model: 'meta-llama/Llama-3.1-8B' });
    const unlabelled = [workerPod('w', { labels: { app: 'vllm' } })];
    const second = desiredState({ idxd: idxdWith(spec), pods: unlabelled, indexerPods: [], image })
      .models[0]!;
    const fed = desiredState({
      idxd: idxdWith(spec),
      pods: unlabelled,
      indexerPods: indexers(second.name),
      image,
    }).models[0]!;
    expect(fed.feeds[0]!.url).toBe('http://10.9.0.1:8090/v1/models/meta-llama%2FLlama-3.1-8B/workers');
    expect(second.name.length).toBeLessThanOrEqual(63);
    expect(second.deployment.metadata?.annotations?.['kvindex.io/model']).toBe('meta-llama/Llama-3.1-8B');
  });

  it('summarizes failed workers into one problem per reason', () => {
    const pods = [
      ...fleet(2),
      ...['x1', 'x2', 'x3', 'x4'].map((n) =>
        workerPod(n, { annotations: { 'kvindex.io/block-size': 'big' } }),
      ),
    ];
    const state = desiredState({ idxd: idxdWith(specWith()), pods, indexerPods: [], image });
    expect(state.failedWorkers.map((f) => f.pod)).toEqual(['x1', 'x2', 'x3', 'x4']);
    expect(state.problems).toHaveLength(1);
    expect(state.problems[0]!.reason).toBe('InvalidAnnotation');
    expect(state.problems[0]!.message).toMatch(
      /^4 worker pods: x1: annotation kvindex.io\/block-size .*; and 1 more$/,
    );
  });

  it('with nats, sizes by worker pods, passes the NATS flags and sends no feeds', () => {
    const spec = specWith();
    spec.events = {
      transport: 'nats',
      zmq: { port: 'kv-events' },
      nats: { url: 'nats://nats:4222', namespace: 'dyn', component: 'be' },
    };
    const indexers = [indexerPod('idx', 'llama-fleet-llama-3-8b', '10.9.0.1')];
    const [model] = desiredState({
      idxd: idxdWith(spec),
      pods: fleet(40),
      indexerPods: indexers,
      image,
    }).models;
    expect(model!.replicas).toBe(2);
    expect(model!.feeds).toEqual([]);
    expect(model!.deployment.spec!.template.spec!.containers[0]!.args).toEqual([
      '--port=8090',
      '--nats-url=nats://nats:4222',
      '--nats-subjects=dyn/be',
    ]);
  });

  it('keeps a model whose engines are all restarting, and drops one whose pods are gone', () => {
    const pods = [
      workerPod('restarting', { ready: false }),
      workerPod('done', { phase: 'Succeeded', labels: { app: 'vllm', 'kvindex.io/model': 'old' } }),
      workerPod('leaving', { deleting: true, labels: { app: 'vllm', 'kvindex.io/model': 'older' } }),
    ];
    const state = desiredState({ idxd: idxdWith(specWith()), pods, indexerPods: [], image });
    expect(state.models.map((m) => [m.model, m.workers.length, m.replicas])).toEqual([['llama-3-8b', 0, 1]]);
    expect(desiredState({ idxd: idxdWith(specWith()), pods: [], indexerPods: [], image })).toEqual({
      models: [],
      failedWorkers: [],
      problems: [],
    });
  });
});
