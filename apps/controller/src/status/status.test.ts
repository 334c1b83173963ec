import { describe, expect, it } from 'vitest';
import { desiredState } from '../desired/desired-state.ts';
import { idxdWith, indexerPod, specWith, workerPod } from '../desired/test-support/fixtures.ts';
import { buildStatus, type IndexerModelReport, type ModelObservation, sameStatus } from './status.ts';

const now = new Date('2026-01-02T03:04:05.678Z');
const pods = [
  workerPod('vllm-0', { ip: '10.0.0.1', labels: { app: 'vllm', 'kvindex.io/model': 'llama' } }),
  workerPod('vllm-1', { ip: '10.0.0.2', labels: { app: 'vllm', 'kvindex.io/model': 'llama' } }),
];

function row(active: number, blocks: number, extra: Partial<IndexerModelReport> = {}): IndexerModelReport {
  return {
    model_name: 'llama',
    routing_group: 'default',
    blocks: { device: blocks, host_pinned: 0, disk: 0, external: 0 },
    lag_seconds: 0.25,
    gaps: 1,
    replays: 1,
    workers: Array.from({ length: 2 }, (_, i) => ({
      instance_id: BigInt(i),
      dp_rank: 0,
      status: i < active ? 'active' : 'pending',
    })),
    ...extra,
  };
}

describe('buildStatus', () => {
  const idxd = idxdWith(specWith());
  idxd.metadata.generation = 3;
  const name = 'llama-fleet-llama';
  const indexers = [indexerPod(`${name}-a`, name, '10.1.0.1'), indexerPod(`${name}-b`, name, '10.1.0.2')];
  const desired = desiredState({ idxd, pods, indexerPods: indexers, image: 'img' });

  it('is Ready when every model has a ready replica; a worker counts once every replica follows it', () => {
    const obs = new Map<string, ModelObservation>([
      [
        'llama',
        {
          reports: [
            { pod: 'a', rows: [row(2, 10)] },
            { pod: 'b', rows: [row(1, 12, { gaps: 4 })] },
          ],
          feedErrors: [],
          restartsDetected: 2,
        },
      ],
    ]);
    const { status, transitions } = buildStatus(idxd, desired, obs, now);
    expect(status.models).toEqual([
      {
        name: 'llama',
        routingGroups: 1,
        workers: 2,
        readyWorkers: 1,
        replicas: 1,
        readyReplicas: 2,
        blocks: 12,
        gaps: 4,
        replays: 1,
        maxLagSeconds: 0.25,
        restartsDetected: 2,
      },
    ]);
    const byType = Object.fromEntries(status.conditions!.map((c) => [c.type, c]));
    expect(byType.Ready).toMatchObject({ status: 'True', reason: 'IndexersReady', observedGeneration: 3 });
    expect(byType.Progressing).toMatchObject({ status: 'True', reason: 'Subscribing' });
    expect(byType.Degraded).toMatchObject({ status: 'False' });
    expect(byType.Ready!.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
    expect(transitions.map((t) => t.type).sort()).toEqual(['Degraded', 'Progressing', 'Ready']);

    // Same observation again: no transition, an equal status (nothing to write).
    const again = buildStatus({ ...idxd, status }, desired, obs, new Date(now.getTime() + 60_000));
    expect(again.transitions).toEqual([]);
    expect(sameStatus(status, again.status)).toBe(true);
  });

  it('is Degraded with the failing replica named when a PUT fails, and not Ready without replicas', () => {
    const failing = buildStatus(
      idxd,
      desired,
      new Map([['llama', { reports: [], feedErrors: ['llama-a: PUT refused'], restartsDetected: 0 }]]),
      now,
    );
    const degraded = failing.status.conditions!.find((c) => c.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'FeedFailed', message: 'llama-a: PUT refused' });

    const none = desiredState({ idxd, pods, indexerPods: [], image: 'img' });
    const { status } = buildStatus(idxd, none, new Map(), now);
    expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'IndexersNotReady',
    });
    expect(status.conditions!.find((c) => c.type === 'Progressing')?.reason).toBe('ScalingIndexers');
  });

  it('reports misconfiguration as Degraded with its reason', () => {
    const bad = workerPod('vllm-9', { labels: { app: 'vllm', 'kvindex.io/model': 'llama' } });
    bad.spec!.containers[0]!.ports = [];
    const state = desiredState({ idxd, pods: [...pods, bad], indexerPods: indexers, image: 'img' });
    const { status } = buildStatus(idxd, state, new Map(), now);
    expect(status.failedWorkers?.map((f) => f.pod)).toEqual(['vllm-9']);
    expect(status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: status.failedWorkers![0]!.reason,
    });
  });
});
