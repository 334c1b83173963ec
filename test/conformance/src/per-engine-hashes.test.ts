import type { JsonValue } from '@kvindex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvindexGap } from './catalogue/kvindex-gaps.ts';
import { canonical } from './harness/canonical.ts';
import {
  type ServiceKind,
  type ServiceUnderTest,
  serviceKinds,
  startServices,
  stopAll,
} from './harness/services.ts';
import { packWire, WirePeer } from './harness/wire-peer.ts';

/**
 * Doc §7.0, exactly as measured: two engines hold the same four blocks of tokens under their own
 * hashes (101–104 and 201–204), each stored in two events. Dynamo credits the second engine only
 * with its first event's blocks; kvindex credits both fully (difference per-engine-hashes).
 */
const MODEL = 'seeds';
const SCENARIO = 'two engines, same four blocks, own hashes, two events each';
const TOKENS = Array.from({ length: 16 }, (_, i) => i + 1);
const kinds = serviceKinds();
let services: ServiceUnderTest[] = [];
const answers = new Map<ServiceKind, JsonValue>();

function stored(hashes: number[], parent: number | null, tokens: number[]): unknown {
  return ['BlockStored', hashes, parent, tokens, 4, null, null, null, null, 0, 'full_attention', null];
}

beforeAll(async () => {
  services = await startServices(kinds);
  const engines = [
    { id: 1n, base: 100 },
    { id: 2n, base: 200 },
  ];
  const peers = await Promise.all(engines.map(() => WirePeer.start()));
  try {
    for (const [i, e] of engines.entries()) {
      for (const s of services) {
        const reply = await s.http.register({
          instance_id: e.id,
          endpoint: peers[i]!.endpoint,
          replay_endpoint: peers[i]!.replayEndpoint,
          model_name: MODEL,
          block_size: 4,
        });
        if (reply.status !== 201) throw new Error(`${s.kind} register → ${reply.status}`);
      }
    }
    await Promise.all(peers.map((p) => p.waitForSubscribers(services.length)));
    // Engine 1 first, so engine 2 is the one whose hashes differ from the nodes' first writer.
    for (const [i, e] of engines.entries()) {
      const b = e.base;
      await peers[i]!.send(packWire([0.5, [stored([b + 1, b + 2], null, TOKENS.slice(0, 8))], null]));
      await peers[i]!.send(packWire([0.6, [stored([b + 3, b + 4], b + 2, TOKENS.slice(8))], null]));
      await new Promise((r) => setTimeout(r, 300));
    }
    const deadline = performance.now() + 3000;
    for (;;) {
      for (const s of services)
        answers.set(s.kind, (await s.http.query({ token_ids: TOKENS, model_name: MODEL })).json!);
      console.log([...answers.entries()].map(([k, a]) => `${k}: ${canonical(a)}`).join('\n'));
      const settled = [...answers.values()].every((a) =>
        canonical((a as Record<string, JsonValue>).scores).includes('"1":{"0":16}'),
      );
      if (settled || performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const p of peers) p.close();
  }
});

afterAll(async () => {
  await stopAll(services);
});

describe('engines that hash the same tokens with different seeds (doc §7.0)', () => {
  it.each(['dynamo-t1', 'dynamo-t4'] as const)(
    '%s scores the first engine 16 tokens and the second 8',
    (kind) => {
      expect(canonical((answers.get(kind) as Record<string, JsonValue>).scores)).toBe(
        canonical({ '1': { '0': 16 }, '2': { '0': 8 } }),
      );
    },
  );
  const gap = kinds.includes('kvindex') ? kvindexGap(`per-engine: ${SCENARIO}`) : undefined;
  // A known kvindex gap runs as an expected failure (catalogue/kvindex-gaps.ts).
  const kvindexIt = !kinds.includes('kvindex') ? it.skip : gap === undefined ? it : it.fails;
  kvindexIt(
    `kvindex scores both engines 16 tokens (difference per-engine-hashes)${gap === undefined ? '' : ' (known gap)'}`,
    () => {
      expect(canonical((answers.get('kvindex') as Record<string, JsonValue>).scores)).toBe(
        canonical({ '1': { '0': 16 }, '2': { '0': 16 } }),
      );
    },
  );
});
