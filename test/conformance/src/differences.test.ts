import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIFFERENCES, differencesTable } from './catalogue/differences.ts';
import { HTTP_STEPS } from './catalogue/http-steps.ts';
import { WIRE_ROWS } from './catalogue/wire-rows.ts';

const markdown = readFileSync(join(import.meta.dirname, '..', 'DIFFERENCES.md'), 'utf8');
const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');

describe('the list of deliberate differences', () => {
  it('names every difference a catalogue lets kvindex take', () => {
    const ids = new Set(DIFFERENCES.map((d) => d.id));
    const used = [
      ...WIRE_ROWS.flatMap((r) => (r.kvindex ? [r.kvindex.difference] : [])),
      ...HTTP_STEPS.flatMap((s) => (s.kvindexDiffers ? [s.kvindexDiffers.difference] : [])),
    ];
    expect(used.filter((id) => !ids.has(id))).toEqual([]);
  });

  it('DIFFERENCES.md carries the table generated from it', () => {
    expect(markdown).toContain(differencesTable());
  });

  it('README.md carries the same table under "kvindex vs Dynamo 1.6.1"', () => {
    expect(readme).toContain('## kvindex vs Dynamo 1.6.1');
    expect(readme).toContain(differencesTable());
  });
});
