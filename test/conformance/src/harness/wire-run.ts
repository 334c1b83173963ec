import type { JsonValue } from '@kvindex/core';
import {
  batch,
  type Outcome,
  queryBody,
  WIRE_BLOCK_SIZE,
  WIRE_MODEL,
  type WireRow,
} from '../catalogue/wire-rows.ts';
import { canonical } from './canonical.ts';
import type { ServiceKind, ServiceUnderTest } from './services.ts';
import { packWire, WirePeer } from './wire-peer.ts';

export interface RowResult {
  outcomes: Map<ServiceKind, Outcome>;
  /** Start seqs of replay requests the peer received (from every service). */
  replayRequests: bigint[];
}

/** What a service should answer for a row: the recorded Dynamo answer, or kvindex's named one. */
export function expectedOutcome(row: WireRow, kind: ServiceKind): Outcome | undefined {
  if (kind === 'kvindex' && row.kvindex) return row.kvindex.outcome;
  return row.dynamo;
}

export function outcomeOf(answer: JsonValue | undefined, instance: bigint): Outcome {
  const a = (answer ?? {}) as Record<string, Record<string, JsonValue>>;
  const key = String(instance);
  return {
    score: (a.scores?.[key] as Record<string, number> | undefined) ?? null,
    instance: (a.instances?.[key] as Record<string, unknown> | undefined) ?? null,
  };
}

export function sameOutcome(a: Outcome | undefined, b: Outcome | undefined): boolean {
  return canonical(a as never) === canonical(b as never);
}

/** Tokens no row stores: the sentinel block's. */
const SENTINEL_TOKENS = [900, 901, 902, 903];
const SENTINEL_EVENT = ['BlockStored', [9001], null, SENTINEL_TOKENS, WIRE_BLOCK_SIZE];
const SENTINEL_TIMEOUT_MS = 10_000;

/** Waits until every service indexes the sentinel for `instanceId`; returns those that never did. */
async function waitForSentinel(
  services: readonly ServiceUnderTest[],
  instanceId: bigint,
): Promise<ServiceKind[]> {
  const missing: ServiceKind[] = [];
  await Promise.all(
    services.map(async (s) => {
      const start = performance.now();
      for (;;) {
        const reply = await s.http.query({ token_ids: SENTINEL_TOKENS, model_name: WIRE_MODEL });
        if (reply.status === 200 && outcomeOf(reply.json, instanceId).score !== null) return;
        if (performance.now() - start > SENTINEL_TIMEOUT_MS) {
          missing.push(s.kind);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  return missing;
}

const SETTLE_MIN_MS = 400;
const SETTLE_MAX_MS = 4000;

/**
 * Runs one row: a fresh peer, instance `instanceId` registered on every service, the row's
 * frames, then each service's answer once it settles (it equals its expected outcome, or — for
 * rows with no recorded answer — Dynamo --threads 1's), or after SETTLE_MAX_MS.
 */
export async function runWireRow(
  row: WireRow,
  instanceId: bigint,
  services: readonly ServiceUnderTest[],
): Promise<RowResult> {
  const peer = await WirePeer.start({
    ...(row.topic === undefined ? {} : { topic: row.topic }),
    ...(row.replyWithTopic === undefined ? {} : { replyWithTopic: row.replyWithTopic }),
  });
  try {
    for (const s of services) {
      const reply = await s.http.register({
        instance_id: instanceId,
        endpoint: peer.endpoint,
        ...(row.noReplay ? {} : { replay_endpoint: peer.replayEndpoint }),
        model_name: WIRE_MODEL,
        block_size: WIRE_BLOCK_SIZE,
      });
      if (reply.status !== 201)
        throw new Error(`${s.kind}: register ${instanceId} → ${reply.status} ${reply.text}`);
    }
    await peer.waitForSubscribers(services.length);
    for (const step of row.steps) {
      if ('frames' in step) await peer.sendFrames(step.frames);
      else if ('rawPayload' in step)
        await peer.send(step.rawPayload, step.seq === undefined ? {} : { seq: step.seq });
      else {
        await peer.send(packWire(step.payload), {
          ...(step.seq === undefined ? {} : { seq: step.seq }),
          lost: step.lost === true,
          keep: step.forgotten !== true,
        });
      }
    }
    const { path, body } = queryBody(row);
    const read = async (s: ServiceUnderTest): Promise<Outcome> => {
      const reply = await s.http.post(path, body);
      if (reply.status !== 200)
        return { score: null, instance: { http_status: reply.status, body: reply.text } };
      return outcomeOf(reply.json, instanceId);
    };
    let outcomes = new Map<ServiceKind, Outcome>();
    if (row.sentinel !== false) {
      // A store of an unrelated block at the next seq: once a service shows it, every frame
      // before it on this stream has been handled, so "nothing indexed" is an answer, not a guess.
      await peer.send(packWire(batch([SENTINEL_EVENT])));
      const missing = await waitForSentinel(services, instanceId);
      outcomes = new Map(await Promise.all(services.map(async (s) => [s.kind, await read(s)] as const)));
      for (const kind of missing)
        outcomes.set(kind, { score: null, instance: { sentinel: 'never applied' } });
      for (const s of services) await s.http.unregister({ instance_id: instanceId, model_name: WIRE_MODEL });
      return { outcomes, replayRequests: [...peer.replayRequests] };
    }
    const start = performance.now();
    await new Promise((r) => setTimeout(r, SETTLE_MIN_MS));
    for (;;) {
      outcomes = new Map(await Promise.all(services.map(async (s) => [s.kind, await read(s)] as const)));
      const reference = outcomes.get('dynamo-t1');
      const settled = services.every((s) => {
        const expected = expectedOutcome(row, s.kind) ?? (s.kind === 'dynamo-t1' ? undefined : reference);
        return expected === undefined || sameOutcome(outcomes.get(s.kind), expected);
      });
      if (settled || performance.now() - start > SETTLE_MAX_MS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of services) {
      await s.http.unregister({ instance_id: instanceId, model_name: WIRE_MODEL });
    }
    return { outcomes, replayRequests: [...peer.replayRequests] };
  } finally {
    peer.close();
  }
}
