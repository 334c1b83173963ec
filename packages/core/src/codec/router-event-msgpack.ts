import { Packr } from 'msgpackr';
import type { RouterEvent } from '../events/router-event.ts';
import { DecodeError } from './decode-error.ts';
import { routerEventFromValue, routerEventToValue } from './router-event-value.ts';

/**
 * Dynamo's `rmp_serde::to_vec_named` form: structs as maps keyed by field name, `{"stored": …}`
 * for newtype variants and the string "cleared" for the unit variant. 64-bit integers decode as
 * BigInt; u64 values are written as msgpack integers (never floats).
 */
const packr = new Packr({
  useRecords: false,
  int64AsType: 'bigint',
  mapsAsObjects: true,
  variableMapSize: true,
});

/** Values beyond 32 bits go out as BigInt so msgpackr writes an integer, not a float64. */
function integersExact(value: unknown): unknown {
  if (typeof value === 'bigint') return value <= 0xffff_ffffn ? Number(value) : value;
  if (Array.isArray(value)) return value.map(integersExact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = integersExact(v);
    return out;
  }
  return value;
}

export function encodeRouterEventMsgpack(event: RouterEvent): Uint8Array {
  return packr.pack(integersExact(routerEventToValue(event)));
}

export function decodeRouterEventMsgpack(bytes: Uint8Array): RouterEvent {
  return routerEventFromValue(unpackMsgpack(bytes));
}

/** Decodes one msgpack value; truncated or malformed bytes become a DecodeError. */
export function unpackMsgpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new DecodeError('', `invalid msgpack: ${(err as Error).message}`);
  }
}

export function packMsgpack(value: unknown): Uint8Array {
  return packr.pack(integersExact(value));
}
