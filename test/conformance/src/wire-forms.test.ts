import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvindexGap } from './catalogue/kvindex-gaps.ts';
import { WIRE_ROWS, type WireRow } from './catalogue/wire-rows.ts';
import { canonical } from './harness/canonical.ts';
import {
  type ServiceKind,
  type ServiceUnderTest,
  serviceKinds,
  startServices,
  stopAll,
} from './harness/services.ts';
import { expectedOutcome, type RowResult, runWireRow } from './harness/wire-run.ts';

const kinds = serviceKinds();
let services: ServiceUnderTest[] = [];
const results = new Map<string, RowResult>();
/** Rows run a few at a time: each has its own peer and instance id, and reads only its own scores. */
const CONCURRENCY = 6;

beforeAll(async () => {
  services = await startServices(kinds);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < WIRE_ROWS.length) {
      const i = next++;
      const row = WIRE_ROWS[i]!;
      results.set(row.name, await runWireRow(row, BigInt(100 + i), services));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}, 300_000);

afterAll(async () => {
  await stopAll(services);
  const differing = WIRE_ROWS.filter(
    (row) =>
      orderSensitive(row) &&
      canonical(results.get(row.name)?.outcomes.get('dynamo-t4') as never) !==
        canonical((row.dynamo ?? results.get(row.name)?.outcomes.get('dynamo-t1')) as never),
  );
  if (differing.length > 0) {
    console.warn(
      `Dynamo --threads 4 differed from --threads 1 on ${differing.length} multi-batch rows this run (reported, not failed): ${differing
        .map((r) => `"${r.name}" ${canonical(results.get(r.name)!.outcomes.get('dynamo-t4') as never)}`)
        .join('; ')}`,
    );
  }
});

const rows = WIRE_ROWS.map((row) => [row.name, row] as const);

/**
 * Rows whose answer depends on the order in which several batches are applied. Dynamo's default
 * ThreadPoolIndexer (--threads 4) was seen, in one run on a loaded machine, to answer ten of them
 * as if a later batch had overtaken an earlier one (a removal before its store, a replayed parent
 * after its child); never reproduced in isolation. For --threads 4 these rows are reported (after
 * the run), not asserted; --threads 1 and kvindex are held to them.
 */
function orderSensitive(row: WireRow): boolean {
  return row.steps.length > 1;
}

describe('Dynamo 1.6.1 applies every wire form as recorded in http-exchanges.md §2', () => {
  for (const kind of ['dynamo-t1', 'dynamo-t4'] as const) {
    const asserted = rows.filter(
      ([, row]) => row.dynamo !== undefined && (kind === 'dynamo-t1' || !orderSensitive(row)),
    );
    it.each(asserted)(`${kind}: %s`, (_name, row) => {
      const result = results.get(row.name)!;
      expect(canonical(result.outcomes.get(kind) as never)).toBe(canonical(row.dynamo as never));
    });
  }
  it.each(rows.filter(([, row]) => row.dynamoReplayFrom !== undefined))(
    'replay is asked from the recorded seq: %s',
    (_name, row) => {
      const result = results.get(row.name)!;
      expect(result.replayRequests).toContain(row.dynamoReplayFrom);
    },
  );
});

describe('every service builds the same index from every wire form as Dynamo --threads 1', () => {
  for (const kind of kinds.filter((k) => k !== 'dynamo-t1')) {
    const gap = (row: WireRow) => (kind === 'kvindex' ? kvindexGap(`wire: ${row.name}`) : undefined);
    // Known kvindex gaps run as expected failures (catalogue/kvindex-gaps.ts).
    it.fails.each(rows.filter(([, row]) => gap(row) !== undefined))(`${kind} (known gap): %s`, (_name, row) =>
      checkRow(kind, row),
    );
    const asserted = rows.filter(
      ([, row]) => gap(row) === undefined && (kind !== 'dynamo-t4' || !orderSensitive(row)),
    );
    it.each(asserted)(`${kind}: %s`, (_name, row) => checkRow(kind, row));
  }
});

function checkRow(kind: ServiceKind, row: WireRow): void {
  const result = results.get(row.name)!;
  const expected =
    kind === 'kvindex' && row.kvindex
      ? row.kvindex.outcome
      : (expectedOutcome(row, 'dynamo-t1') ?? result.outcomes.get('dynamo-t1'));
  expect(canonical(result.outcomes.get(kind) as never)).toBe(canonical(expected as never));
}
