import { stringifyJsonExact } from '@kvindex/core';
import type { StreamOptions } from '@kvindex/indexer/test-support';
import { describe, expect, inject, it } from 'vitest';
import { kvindexProgram, oracleProgram, runConform } from './conform-runner.ts';
import { checkStream, describeFinding, type Reference } from './differential-check.ts';

const soak = process.env.KVINDEX_SOAK === '1';
const oracle: Reference = { kind: 'oracle', program: oracleProgram(inject('oracleBinary')) };

async function expectNoDivergence(reference: Reference, streams: StreamOptions[]): Promise<void> {
  // Two streams at a time: each runs two child processes, and the machine has two cores.
  for (let i = 0; i < streams.length; i += 2) {
    const batch = streams.slice(i, i + 2);
    const findings = await Promise.all(batch.map((options) => checkStream(reference, options)));
    findings.forEach((finding, j) => {
      if (finding) expect.fail(describeFinding(batch[j]!, finding));
    });
  }
}

function seeds(first: number, count: number, options: Omit<StreamOptions, 'seed'>): StreamOptions[] {
  return Array.from({ length: count }, (_, i) => ({ ...options, seed: first + i }));
}

describe('kvindex against Dynamo 1.6.1 RadixTree (shared engine hashes)', () => {
  // Statuses, scores of every probe, early-exit scores, per-rank tree sizes and dump block sets
  // are compared after every step; nothing may differ.
  it('agrees with mid-chain, suffix and leaf removals, clears and worker removal', async () => {
    await expectNoDivergence(
      oracle,
      seeds(1000, soak ? 400 : 24, { steps: 150, hashes: 'shared', removals: 'any' }),
    );
  });

  it('agrees on long streams without lifecycle resets (deep trees, many splits)', async () => {
    await expectNoDivergence(
      oracle,
      seeds(2000, soak ? 100 : 4, {
        steps: soak ? 1500 : 400,
        hashes: 'shared',
        removals: 'any',
        lifecycle: false,
      }),
    );
  });

  it('agrees on LRU-like streams (leaf removals only)', async () => {
    await expectNoDivergence(
      oracle,
      seeds(3000, soak ? 200 : 8, { steps: 150, hashes: 'shared', removals: 'leaves' }),
    );
  });
});

describe('kvindex against the naive model (per-engine hashes, where Dynamo differs by design)', () => {
  it('agrees on statuses, scores and sizes', async () => {
    await expectNoDivergence(
      { kind: 'naive' },
      seeds(4000, soak ? 400 : 16, { steps: 150, hashes: 'per-engine', removals: 'leaves' }),
    );
  });
});

describe('the one deliberate difference', () => {
  it('credits a second engine that hashes the same blocks with its own seed (Dynamo under-credits it)', async () => {
    // As measured on `python -m dynamo.indexer` 1.6.1: two engines hold the same 4 blocks, stored in
    // two events each, under their own hashes 101–104 and 201–204.
    const stored = (worker: number, parent: number | null, hashes: number[], tokens: number[]) =>
      stringifyJsonExact({
        event: {
          worker_id: worker,
          storage_tier: 'device',
          event: {
            event_id: 0,
            dp_rank: 0,
            data: {
              stored: {
                parent_hash: parent,
                blocks: hashes.map((h, i) => ({ block_hash: h, tokens_hash: tokens[i] })),
              },
            },
          },
        },
      });
    const lines = [
      stored(1, null, [101, 102], [1, 2]),
      stored(1, 102, [103, 104], [3, 4]),
      stored(2, null, [201, 202], [1, 2]),
      stored(2, 202, [203, 204], [3, 4]),
      '{"find":[1,2,3,4],"tree_sizes":false}',
    ];
    const [dynamo, kvindex] = await Promise.all([
      runConform(oracle.program, lines),
      runConform(kvindexProgram(), lines),
    ]);
    expect(dynamo).toEqual([
      '{"status":"ok"}',
      '{"status":"ok"}',
      '{"status":"ok"}',
      '{"status":"ParentBlockNotFound"}',
      '{"scores":{"1:0":4,"2:0":2},"current_size":6}',
    ]);
    expect(kvindex).toEqual([
      '{"status":"ok"}',
      '{"status":"ok"}',
      '{"status":"ok"}',
      '{"status":"ok"}',
      '{"scores":{"1:0":4,"2:0":4},"current_size":8}',
    ]);
  });
});
