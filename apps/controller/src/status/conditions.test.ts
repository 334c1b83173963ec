import { describe, expect, it } from 'vitest';
import { rfc3339, setCondition } from './conditions.ts';

const t0 = new Date('2026-03-01T10:00:00.123Z');
const t1 = new Date('2026-03-01T10:05:00.999Z');

describe('setCondition', () => {
  it('adds a condition with the transition time and generation', () => {
    const { conditions, transitioned } = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'NoIndexers', message: 'waiting' },
      3,
      t0,
    );
    expect(transitioned).toBe(true);
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'NoIndexers',
        message: 'waiting',
        observedGeneration: 3,
        lastTransitionTime: '2026-03-01T10:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime while the status holds, and moves it on a flip', () => {
    const first = setCondition(
      undefined,
      { type: 'Degraded', status: 'True', reason: 'PortNotFound', message: 'a' },
      1,
      t0,
    );
    const same = setCondition(
      first.conditions,
      { type: 'Degraded', status: 'True', reason: 'BlockSizeMismatch', message: 'b' },
      2,
      t1,
    );
    expect(same.transitioned).toBe(false);
    expect(same.conditions[0]).toMatchObject({
      reason: 'BlockSizeMismatch',
      message: 'b',
      observedGeneration: 2,
      lastTransitionTime: '2026-03-01T10:00:00Z',
    });
    const flipped = setCondition(
      same.conditions,
      { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' },
      2,
      t1,
    );
    expect(flipped.transitioned).toBe(true);
    expect(flipped.conditions[0]!.lastTransitionTime).toBe('2026-03-01T10:05:00Z');
  });

  it('keeps the other conditions, sorted by type', () => {
    let conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'R', message: '' },
      1,
      t0,
    ).conditions;
    conditions = setCondition(
      conditions,
      { type: 'Degraded', status: 'False', reason: 'D', message: '' },
      1,
      t0,
    ).conditions;
    conditions = setCondition(
      conditions,
      { type: 'Progressing', status: 'True', reason: 'P', message: '' },
      1,
      t0,
    ).conditions;
    expect(conditions.map((c) => c.type)).toEqual(['Degraded', 'Progressing', 'Ready']);
  });

  it('writes metav1.Time without fractional seconds', () => {
    expect(rfc3339(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05Z');
  });
});
