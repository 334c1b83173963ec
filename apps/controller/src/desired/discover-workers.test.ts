import { xxh3_64_utf8 } from '@kvindex/core';
import { describe, expect, it } from 'vitest';
import { discoverWorkers } from './discover-workers.ts';
import { engineContainerWith, specWith, workerPod } from './test-support/fixtures.ts';

const ns = 'inference';

describe('discoverWorkers', () => {
  it('counts only Running, Ready pods with an IP that are not being deleted', () => {
    const pods = [
      workerPod('ok'),
      workerPod('pending', { phase: 'Pending' }),
      workerPod('not-ready', { ready: false }),
      workerPod('no-ip', { ip: '' }),
      workerPod('deleting', { deleting: true }),
      workerPod('succeeded', { phase: 'Succeeded' }),
    ];
    const { workers, failed } = discoverWorkers(ns, specWith(), pods);
    expect(workers.map((w) => w.pod)).toEqual(['ok']);
    expect(failed).toEqual([]);
  });

  it('applies the selector', () => {
    const pods = [workerPod('a'), workerPod('b', { labels: { app: 'sglang', 'kvindex.io/model': 'm' } })];
    expect(discoverWorkers(ns, specWith(), pods).workers.map((w) => w.pod)).toEqual(['a']);
  });

  it('takes the model from the model label, else spec.model, else fails the pod', () => {
    const pods = [
      workerPod('labelled', { labels: { app: 'vllm', 'kvindex.io/model': 'qwen' } }),
      workerPod('bare', { labels: { app: 'vllm' } }),
    ];
    const withModel = discoverWorkers(ns, specWith({ model: 'llama' }), pods);
    expect(withModel.workers.map((w) => [w.pod, w.model])).toEqual([
      ['bare', 'llama'],
      ['labelled', 'qwen'],
    ]);
    const without = discoverWorkers(ns, specWith(), pods);
    expect(without.workers.map((w) => w.pod)).toEqual(['labelled']);
    expect(without.failed).toEqual([
      {
        pod: 'bare',
        reason: 'ModelUnknown',
        message: 'pod has no label kvindex.io/model and spec.model is not set',
      },
    ]);
  });

  it('reads the routing group from its label, "default" otherwise', () => {
    const spec = specWith();
    spec.workers.routingGroupLabel = 'hw';
    const pods = [
      workerPod('h100', { labels: { app: 'vllm', 'kvindex.io/model': 'm', hw: 'h100' } }),
      workerPod('plain', { labels: { app: 'vllm', 'kvindex.io/model': 'm' } }),
    ];
    const { workers } = discoverWorkers(ns, spec, pods);
    expect(workers.map((w) => w.routingGroup)).toEqual(['h100', 'default']);
    expect(workers[0]!.endpoints[0]!.routing_group).toBe('h100');
  });

  it('gives each data-parallel rank port + rank, replay likewise (vLLM rule)', () => {
    const spec = specWith();
    spec.events.zmq = { port: 'kv-events', replayPort: 'kv-replay' };
    const pod = workerPod('dp', { ip: '10.1.2.3', annotations: { 'kvindex.io/data-parallel-size': '3' } });
    const [worker] = discoverWorkers(ns, spec, [pod]).workers;
    expect(worker!.endpoints.map((e) => [e.dp_rank, e.endpoint, e.replay_endpoint])).toEqual([
      [0, 'tcp://10.1.2.3:5557', 'tcp://10.1.2.3:5567'],
      [1, 'tcp://10.1.2.3:5558', 'tcp://10.1.2.3:5568'],
      [2, 'tcp://10.1.2.3:5559', 'tcp://10.1.2.3:5569'],
    ]);
  });

  it('accepts port numbers and brackets IPv6 pod IPs', () => {
    const spec = specWith();
    spec.events.zmq = { port: 7000 };
    const [worker] = discoverWorkers(ns, spec, [workerPod('v6', { ip: 'fd00::7' })]).workers;
    expect(worker!.endpoints[0]!.endpoint).toBe('tcp://[fd00::7]:7000');
  });

  it('derives the worker id from namespace/name with XXH3, unless annotated', () => {
    const [a, b] = discoverWorkers(ns, specWith(), [
      workerPod('vllm-0'),
      workerPod('vllm-1', { annotations: { 'kvindex.io/worker-id': '18446744073709551615' } }),
    ]).workers;
    expect(a!.endpoints[0]!.instance_id).toBe(xxh3_64_utf8('inference/vllm-0', 0n));
    expect(a!.endpoints[0]!.instance_id).not.toBe(xxh3_64_utf8('other/vllm-0', 0n));
    expect(b!.endpoints[0]!.instance_id).toBe(0xffff_ffff_ffff_ffffn);
  });

  it.each([
    ['-1', 'must be a decimal u64'],
    ['18446744073709551616', 'exceeds u64'],
    ['0x10', 'must be a decimal u64'],
  ])('fails a pod whose worker-id annotation is %s', (value, message) => {
    const { workers, failed } = discoverWorkers(ns, specWith(), [
      workerPod('p', { annotations: { 'kvindex.io/worker-id': value } }),
    ]);
    expect(workers).toEqual([]);
    expect(failed[0]!.reason).toBe('InvalidAnnotation');
    expect(failed[0]!.message).toContain(message);
  });

  it("marks the generation with the pod UID and the engine container's restart count", () => {
    const sidecar = { name: 'proxy', image: 'envoy', ports: [{ name: 'admin', containerPort: 9901 }] };
    const pod = workerPod('g', {
      uid: 'aaaaaaaa-0000-4000-8000-000000000000',
      containers: [sidecar, engineContainerWith()],
      restarts: { proxy: 7, engine: 2 },
    });
    const [worker] = discoverWorkers(ns, specWith(), [pod]).workers;
    // The engine is the container declaring the named events port, not the first container.
    expect(worker!.endpoints[0]!.generation).toBe('aaaaaaaa-0000-4000-8000-000000000000:2');
    const named = specWith();
    named.workers.engineContainer = 'proxy';
    named.events.zmq = { port: 5557 };
    expect(discoverWorkers(ns, named, [pod]).workers[0]!.endpoints[0]!.generation).toBe(
      'aaaaaaaa-0000-4000-8000-000000000000:7',
    );
  });

  it('takes ranks from InferencePool targetPorts, restricted by active-ports annotations', () => {
    const spec = specWith({
      workers: { poolRef: { name: 'pool' }, modelLabel: 'kvindex.io/model', routingGroupLabel: '' },
    });
    const pool = { selector: { app: 'vllm' }, targetPorts: [8000, 8001, 8002, 8003] };
    const pods = [
      workerPod('all', { ip: '10.0.0.1' }),
      workerPod('legacy', {
        ip: '10.0.0.2',
        annotations: { 'inference.networking.k8s.io/active-ports': '8000, 8002' },
      }),
      workerPod('llmd', {
        ip: '10.0.0.3',
        annotations: { 'llm-d.ai/active-ports': '8003', 'inference.networking.k8s.io/active-ports': '8000' },
      }),
      workerPod('none', { ip: '10.0.0.4', annotations: { 'llm-d.ai/active-ports': '' } }),
    ];
    const { workers, failed } = discoverWorkers(ns, spec, pods, pool);
    expect(failed).toEqual([]);
    expect(workers.map((w) => [w.pod, w.endpoints.map((e) => `${e.dp_rank}@${e.endpoint}`)])).toEqual([
      [
        'all',
        ['0@tcp://10.0.0.1:5557', '1@tcp://10.0.0.1:5558', '2@tcp://10.0.0.1:5559', '3@tcp://10.0.0.1:5560'],
      ],
      ['legacy', ['0@tcp://10.0.0.2:5557', '2@tcp://10.0.0.2:5559']],
      ['llmd', ['3@tcp://10.0.0.3:5560']],
    ]);
  });

  it('uses the pool selector, and reports a missing pool', () => {
    const spec = specWith({
      workers: { poolRef: { name: 'pool' }, modelLabel: 'kvindex.io/model', routingGroupLabel: '' },
    });
    const pods = [workerPod('a'), workerPod('b', { labels: { app: 'other', 'kvindex.io/model': 'm' } })];
    expect(
      discoverWorkers(ns, spec, pods, { selector: { app: 'other' }, targetPorts: [8000] }).workers.map(
        (w) => w.pod,
      ),
    ).toEqual(['b']);
    expect(discoverWorkers(ns, spec, pods, null)).toEqual({
      models: [],
      workers: [],
      failed: [],
      problems: [
        { reason: 'InferencePoolNotFound', message: 'InferencePool pool not found in namespace inference' },
      ],
    });
    expect(discoverWorkers(ns, spec, pods, { selector: {}, targetPorts: [8000] }).problems[0]!.reason).toBe(
      'EmptySelector',
    );
  });

  it('fails pods whose ports do not resolve or overflow', () => {
    const spec = specWith();
    spec.events.zmq = { port: 'kv-events', replayPort: 'replay' };
    const high = specWith();
    high.events.zmq = { port: 65534 };
    const { failed } = discoverWorkers(ns, spec, [workerPod('a')]);
    expect(failed).toEqual([
      {
        pod: 'a',
        model: 'llama-3-8b',
        reason: 'PortNotFound',
        message: 'no container port named "replay" (spec.events.zmq.replayPort)',
      },
    ]);
    const noEvents = workerPod('b', {
      containers: [{ name: 'engine', ports: [{ name: 'http', containerPort: 80 }] }],
    });
    expect(discoverWorkers(ns, specWith(), [noEvents]).failed[0]!.message).toContain(
      'no container port named "kv-events" (spec.events.zmq.port)',
    );
    const overflow = discoverWorkers(ns, high, [
      workerPod('c', { annotations: { 'kvindex.io/data-parallel-size': '4' } }),
    ]);
    expect(overflow.failed[0]).toMatchObject({
      reason: 'PortOutOfRange',
      message: 'events port 65534 + rank 3 exceeds 65535',
    });
    const badSize = discoverWorkers(ns, specWith(), [
      workerPod('d', { annotations: { 'kvindex.io/data-parallel-size': '0' } }),
    ]);
    expect(badSize.failed[0]!.reason).toBe('InvalidAnnotation');
  });

  it('catches an engine that would connect instead of bind, or publishes elsewhere', () => {
    const config = (json: string) =>
      engineContainerWith({ args: ['--model', 'x', '--kv-events-config', json] });
    const pods = [
      workerPod('binds', {
        containers: [config('{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557"}')],
      }),
      workerPod('connects', {
        containers: [
          config('{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://indexer:5557"}'),
        ],
      }),
      workerPod('elsewhere', {
        containers: [config('{"enable_kv_cache_events":true,"endpoint":"tcp://*:6000"}')],
      }),
      workerPod('disabled', { containers: [config('{"publisher":"zmq"}')] }),
      workerPod('shell', {
        containers: [
          engineContainerWith({
            command: ['sh', '-c'],
            args: [
              `vllm serve m --kv-events-config='{"enable_kv_cache_events": true, "endpoint": "tcp://*:5557"}'`,
            ],
          }),
        ],
      }),
    ];
    const { workers, failed } = discoverWorkers(ns, specWith(), pods);
    expect(workers.map((w) => w.pod)).toEqual(['binds', 'shell']);
    expect(failed.map((f) => [f.pod, f.reason])).toEqual([
      ['connects', 'EngineConnects'],
      ['disabled', 'EventsDisabled'],
      ['elsewhere', 'EventsPortMismatch'],
    ]);
    expect(failed[0]!.message).toContain('tcp://indexer:5557 makes the engine connect instead of bind');
    expect(failed[0]!.message).toContain('Use tcp://*:5557');
  });

  it('fails the minority block size of a (model, routing group), keeping the majority', () => {
    const pods = [
      workerPod('a'),
      workerPod('b'),
      workerPod('c', { annotations: { 'kvindex.io/block-size': '32' } }),
      workerPod('d', {
        labels: { app: 'vllm', 'kvindex.io/model': 'other' },
        annotations: { 'kvindex.io/block-size': '64' },
      }),
    ];
    const { workers, failed } = discoverWorkers(ns, specWith(), pods);
    expect(workers.map((w) => [w.pod, w.blockSize])).toEqual([
      ['a', 16],
      ['b', 16],
      ['d', 64],
    ]);
    expect(failed).toEqual([
      {
        pod: 'c',
        model: 'llama-3-8b',
        reason: 'BlockSizeMismatch',
        message:
          'block size 32 disagrees with 16 of the other workers of model llama-3-8b routing group default',
      },
    ]);
    expect(workers[2]!.endpoints[0]!.block_size).toBe(64);
  });

  it('fails the second pod claiming a worker id', () => {
    const pods = [
      workerPod('a', { annotations: { 'kvindex.io/worker-id': '7' } }),
      workerPod('b', { annotations: { 'kvindex.io/worker-id': '7' } }),
    ];
    const { workers, failed } = discoverWorkers(ns, specWith(), pods);
    expect(workers.map((w) => w.pod)).toEqual(['a']);
    expect(failed[0]).toMatchObject({ pod: 'b', reason: 'WorkerIdCollision' });
  });

  it('with nats, counts workers without endpoints', () => {
    const spec = specWith();
    spec.events = {
      transport: 'nats',
      zmq: { port: 'kv-events' },
      nats: { url: 'nats://n:4222', namespace: 'dynamo', component: 'backend' },
    };
    const { workers } = discoverWorkers(ns, spec, [workerPod('a', { containers: [{ name: 'engine' }] })]);
    expect(workers).toEqual([
      { pod: 'a', model: 'llama-3-8b', routingGroup: 'default', blockSize: 16, endpoints: [] },
    ]);
  });
});
