import { describe, expect, it } from 'vitest';
import { costOf, DELETION_COST_ANNOTATION, deletionCostPatches } from './deletion-cost.ts';
import { workerPod } from './test-support/fixtures.ts';
import { workerIdOf } from './worker-id.ts';

describe('worker deletion cost', () => {
  it('buckets block counts by powers of two, so the coldest engine goes first', () => {
    expect([0, 1, 2, 3, 4, 1000, 1023, 1024].map(costOf)).toEqual([0, 1, 2, 2, 3, 10, 10, 11]);
  });

  it('patches only the pods whose bucket changed, by worker id (annotation override included)', () => {
    const hot = workerPod('vllm-hot');
    const cold = workerPod('vllm-cold');
    cold.metadata!.annotations = { ...cold.metadata!.annotations, [DELETION_COST_ANNOTATION]: '2' };
    const pinned = workerPod('vllm-pinned');
    pinned.metadata!.annotations = { ...pinned.metadata!.annotations, 'kvindex.io/worker-id': '42' };
    const unknown = workerPod('vllm-unknown');
    const ns = hot.metadata!.namespace!;
    const blocks = new Map<bigint, number>([
      [workerIdOf(ns, 'vllm-hot', undefined) as bigint, 5000],
      [workerIdOf(ns, 'vllm-cold', undefined) as bigint, 3],
      [42n, 0],
    ]);
    expect(deletionCostPatches(ns, [hot, cold, pinned, unknown], blocks)).toEqual(
      new Map([
        ['vllm-hot', '13'],
        ['vllm-pinned', '0'],
      ]),
    );
  });
});
