import { describe, expect, it } from 'vitest';
import { IndexRegistry } from './index-registry.ts';
import { chain, stored } from './test-support/events.ts';

describe('IndexRegistry', () => {
  it('keeps one index per (model, routing group) with a fixed block size', () => {
    const registry = new IndexRegistry();
    const a = registry.getOrCreate('m', 'default', 4);
    const b = registry.getOrCreate('m', 'other', 8);
    if (!a.ok || !b.ok) throw new Error('expected partitions');
    a.partition.index.applyEvent(stored(1, null, chain(101, 2)));
    expect(b.partition.index.findMatches([1n, 2n]).count).toBe(0);
    expect(registry.getOrCreate('m', 'default', 4)).toEqual(a);
    expect(registry.getOrCreate('m', 'default', 8)).toEqual({
      ok: false,
      error: 'block_size mismatch for model=m routing_group=default: existing=4, requested=8',
    });
    expect(registry.list().map((p) => [p.modelName, p.routingGroup])).toEqual([
      ['m', 'default'],
      ['m', 'other'],
    ]);
    expect(registry.remove('m', 'other')).toBe(true);
    expect(registry.get('m', 'other')).toBeUndefined();
  });
});
