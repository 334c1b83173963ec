import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApplyStatus } from './apply-status.ts';
import { packEvents } from './columnar-batch.ts';
import { KvIndex } from './kv-index.ts';
import { applyOp, scoreMap, sizeMap, sortedEntries } from './test-support/apply-op.ts';
import { generateStream } from './test-support/event-stream.ts';
import { NaiveIndex } from './test-support/naive-index.ts';

/**
 * The index against the naive model on streams where Dynamo's compressed-edge quirks cannot
 * arise: removals only of leaves (what an LRU evicts). Shared and per-engine hashes both, so the
 * deliberate difference (each rank resolves its own hashes) is covered here, where Dynamo is not
 * the reference. Mid-chain removals are proven against Dynamo itself in test/differential.
 */
describe('KvIndex against the naive model (leaf removals)', () => {
  for (const hashes of ['shared', 'per-engine'] as const) {
    it(`agrees on statuses, scores and sizes with ${hashes} engine hashes`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0x7fff_ffff }),
          fc.integer({ min: 1, max: 160 }),
          (seed, steps) => {
            const stream = generateStream({ seed, steps, hashes, removals: 'leaves' });
            const index = new KvIndex();
            const naive = new NaiveIndex();
            stream.forEach(({ op, probes }, i) => {
              const at = `step ${i} (${op.kind})`;
              expect(applyOp(index, op), at).toBe(applyOp(naive, op));
              for (const probe of probes) {
                expect(sortedEntries(scoreMap(index, probe)), `${at} probe ${probe}`).toEqual(
                  sortedEntries(naive.scores(probe)),
                );
              }
              expect(sortedEntries(sizeMap(index)), at).toEqual(sortedEntries(naive.sizes()));
            });
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('a dump replayed into an empty index gives the same scores and sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fff_ffff }),
        fc.constantFrom('shared' as const, 'per-engine' as const),
        (seed, hashes) => {
          const stream = generateStream({ seed, steps: 120, hashes, removals: 'leaves', lifecycle: false });
          const index = new KvIndex();
          for (const { op } of stream) applyOp(index, op);
          const replay = new KvIndex();
          expect(replay.load(index.dump())).toBe(0);
          expect(sortedEntries(sizeMap(replay)).filter(([, n]) => n > 0)).toEqual(
            sortedEntries(sizeMap(index)).filter(([, n]) => n > 0),
          );
          for (const { probes } of stream) {
            for (const probe of probes) {
              expect(sortedEntries(scoreMap(replay, probe))).toEqual(sortedEntries(scoreMap(index, probe)));
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('tiny edge-arena chunks', () => {
  it('grow and evacuate without changing statuses, scores, sizes or dumps', () => {
    let evacuations = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fff_ffff }), (seed) => {
        const stream = generateStream({ seed, steps: 160, hashes: 'shared', removals: 'any' });
        const roomy = new KvIndex();
        const tiny = new KvIndex({ edgeArenaChunkPositions: 4 });
        stream.forEach(({ op, probes }, i) => {
          const at = `step ${i} (${op.kind})`;
          expect(applyOp(tiny, op), at).toBe(applyOp(roomy, op));
          for (const probe of probes) {
            expect(sortedEntries(scoreMap(tiny, probe)), `${at} probe ${probe}`).toEqual(
              sortedEntries(scoreMap(roomy, probe)),
            );
          }
          expect(sortedEntries(sizeMap(tiny)), at).toEqual(sortedEntries(sizeMap(roomy)));
        });
        expect(tiny.dump()).toEqual(roomy.dump());
        evacuations += tiny.edgeEvacuations;
      }),
      { numRuns: 60 },
    );
    // The property is only worth something if the streams made the arena evacuate chunks.
    expect(evacuations).toBeGreaterThan(0);
  });
});

describe('applyBatch', () => {
  it('gives the same statuses, scores, sizes and dumps as applyEvent, split at any point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fff_ffff }), fc.integer({ min: 1, max: 40 }), (seed, cut) => {
        const stream = generateStream({
          seed,
          steps: 160,
          hashes: 'per-engine',
          removals: 'any',
          lifecycle: false,
        });
        const events = stream.flatMap(({ op }) => (op.kind === 'event' ? [op.event] : []));
        const byObject = new KvIndex();
        const expected = events.map((e) => byObject.applyEvent(e));
        const byBatch = new KvIndex();
        const batch = packEvents(events);
        const statuses: ApplyStatus[] = [];
        // Two calls, so a batch applied in slices (as the data plane does) is covered too.
        const middle = Math.min(cut, events.length);
        byBatch.applyBatch(batch, 0, middle, statuses);
        const rest: ApplyStatus[] = [];
        byBatch.applyBatch(batch, middle, batch.length, rest);
        expect([...statuses, ...rest]).toEqual(expected);
        for (const { probes } of stream) {
          for (const probe of probes) {
            expect(sortedEntries(scoreMap(byBatch, probe))).toEqual(sortedEntries(scoreMap(byObject, probe)));
          }
        }
        expect(sortedEntries(sizeMap(byBatch))).toEqual(sortedEntries(sizeMap(byObject)));
        expect(byBatch.dump()).toEqual(byObject.dump());
      }),
      { numRuns: 40 },
    );
  });
});
