import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RouterEvent } from '../events/router-event.ts';
import { STORAGE_TIERS } from '../events/router-event.ts';
import { DecodeError } from './decode-error.ts';
import { decodeRouterEventJson, encodeRouterEventJson } from './router-event-json.ts';
import { decodeRouterEventMsgpack, encodeRouterEventMsgpack, packMsgpack } from './router-event-msgpack.ts';

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.constantFrom(0n, 2n ** 63n, 2n ** 64n - 1n),
);

const storedBlock = fc.record({
  block_hash: u64,
  tokens_hash: u64,
  mm_extra_info: fc.option(
    fc.record({
      mm_objects: fc.array(
        fc.record({
          mm_hash: u64,
          offsets: fc.array(fc.tuple(fc.nat(1_000_000), fc.nat(1_000_000)).map(([a, b]) => [a, b])),
        }),
        { maxLength: 2 },
      ),
    }),
  ),
});

const routerEvent: fc.Arbitrary<RouterEvent> = fc.record({
  worker_id: u64,
  storage_tier: fc.constantFrom(...STORAGE_TIERS),
  event: fc.record({
    event_id: u64,
    dp_rank: fc.nat(2 ** 32 - 1),
    data: fc.oneof(
      fc.constant('cleared' as const),
      fc.record({ removed: fc.record({ block_hashes: fc.array(u64, { maxLength: 5 }) }) }),
      fc.record({
        stored: fc.record({
          parent_hash: fc.option(u64),
          start_position: fc.option(fc.nat(2 ** 32 - 1)),
          blocks: fc.array(storedBlock, { maxLength: 5 }),
        }),
      }),
    ),
  }),
});

const sample: RouterEvent = {
  worker_id: 18446744073709551615n,
  storage_tier: 'device',
  event: {
    event_id: 7n,
    dp_rank: 1,
    data: { stored: { parent_hash: null, blocks: [{ block_hash: 2n ** 63n + 5n, tokens_hash: 12n }] } },
  },
};

/** Encoding writes Dynamo's optional fields explicitly; decode(encode(x)) is x with those filled in. */
function canonical(e: RouterEvent): RouterEvent {
  return decodeRouterEventJson(encodeRouterEventJson(e));
}

describe('RouterEvent JSON (Dynamo serde shape)', () => {
  it('writes the serde shape with exact u64s', () => {
    expect(encodeRouterEventJson(sample)).toBe(
      '{"worker_id":18446744073709551615,"storage_tier":"device","event":{"event_id":7,"data":{"stored":{"parent_hash":null,"start_position":null,"blocks":[{"block_hash":9223372036854775813,"tokens_hash":12,"mm_extra_info":null}]}},"dp_rank":1}}',
    );
  });
  it('reads Dynamo forms: "cleared", {"cleared":null}, default tier and dp_rank, unknown fields', () => {
    const a = decodeRouterEventJson('{"worker_id":1,"event":{"event_id":2,"data":"cleared"},"extra":[1]}');
    expect(a).toEqual({
      worker_id: 1n,
      storage_tier: 'device',
      event: { event_id: 2n, data: 'cleared', dp_rank: 0 },
    });
    const b = decodeRouterEventJson(
      '{"worker_id":1,"event":{"event_id":2,"data":{"cleared":null},"dp_rank":3}}',
    );
    expect(b.event.data).toBe('cleared');
    expect(b.event.dp_rank).toBe(3);
  });
  it('reinterprets signed hashes bitwise', () => {
    const e = decodeRouterEventJson(
      '{"worker_id":1,"event":{"event_id":0,"data":{"removed":{"block_hashes":[-1,-9223372036854775808]}}}}',
    );
    expect(e.event.data).toEqual({ removed: { block_hashes: [2n ** 64n - 1n, 2n ** 63n] } });
  });
  it.each([
    ['{"worker_id":-1,"event":{"event_id":0,"data":"cleared"}}', 'worker_id'],
    ['{"worker_id":18446744073709551616,"event":{"event_id":0,"data":"cleared"}}', 'worker_id'],
    ['{"worker_id":1,"event":{"data":"cleared"}}', 'event.event_id'],
    ['{"worker_id":1,"event":{"event_id":0,"data":"bogus"}}', 'event.data'],
    [
      '{"worker_id":1,"event":{"event_id":0,"data":{"stored":{"blocks":[{"block_hash":"x","tokens_hash":1}]}}}}',
      'event.data.stored.blocks[0].block_hash',
    ],
    ['{"worker_id":1,"event":{"event_id":0,"data":{"removed":{}}}}', 'event.data.removed.block_hashes'],
    ['{"worker_id":1,"storage_tier":"gpu","event":{"event_id":0,"data":"cleared"}}', 'storage_tier'],
    ['{"worker_id":1,"event":{"event_id":0,"dp_rank":-1,"data":"cleared"}}', 'event.dp_rank'],
    ['[1]', ''],
    ['{"worker_id":1', ''],
  ])('%s → DecodeError on %j', (text, field) => {
    try {
      decodeRouterEventJson(text);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).field).toBe(field);
    }
  });
  it('round-trips random events (property)', () => {
    fc.assert(
      fc.property(routerEvent, (e) => {
        const once = canonical(e);
        expect(decodeRouterEventJson(encodeRouterEventJson(once))).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });
});

describe('RouterEvent msgpack (rmp_serde named shape)', () => {
  it('round-trips random events exactly (property)', () => {
    fc.assert(
      fc.property(routerEvent, (e) => {
        const once = canonical(e);
        expect(decodeRouterEventMsgpack(encodeRouterEventMsgpack(once))).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });
  it('decodes the unit variant as a bare string and the newtype variant as a one-key map', () => {
    const bytes = packMsgpack({ worker_id: 3, event: { event_id: 1, data: 'cleared', dp_rank: 0 } });
    expect(decodeRouterEventMsgpack(bytes).event.data).toBe('cleared');
  });
  it('never throws anything but DecodeError on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeRouterEventMsgpack(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('truncated events are DecodeErrors', () => {
    const bytes = encodeRouterEventMsgpack(sample);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeRouterEventMsgpack(bytes.subarray(0, n))).toThrow(DecodeError);
    }
  });
});
