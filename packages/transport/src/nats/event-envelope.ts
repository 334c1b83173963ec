import { DecodeError, describe, readObject, readString, readU64, unpackMsgpack } from '@kvindex/core';
import { Packr } from 'msgpackr';

/**
 * Dynamo's event-plane envelope, msgpack with named fields (`rmp_serde::to_vec_named`). The
 * payload is one msgpack-named RouterEvent.
 */
export interface EventEnvelope {
  publisher_id: bigint;
  sequence: bigint;
  /** Milliseconds since the epoch. */
  published_at: bigint;
  topic: string;
  payload: Uint8Array;
}

/** The NATS subject Dynamo publishes a component's KV events on. */
export function kvEventsSubject(namespace: string, component: string): string {
  return `namespace.${namespace}.component.${component}.kv-events`;
}

// Core's packer walks values to keep u64s exact but would turn a bin payload into a map; the
// envelope has only flat fields, so a plain packer with explicit BigInts does.
const packr = new Packr({ useRecords: false, variableMapSize: true });

function u64Value(value: bigint): number | bigint {
  return value <= 0xffff_ffffn ? Number(value) : value;
}

export function encodeEventEnvelope(envelope: EventEnvelope): Buffer {
  return packr.pack({
    publisher_id: u64Value(envelope.publisher_id),
    sequence: u64Value(envelope.sequence),
    published_at: u64Value(envelope.published_at),
    topic: envelope.topic,
    payload: envelope.payload,
  });
}

/** Throws DecodeError on malformed msgpack or a field of the wrong type. */
export function decodeEventEnvelope(bytes: Uint8Array): EventEnvelope {
  const o = readObject(unpackMsgpack(bytes), 'envelope');
  return {
    publisher_id: readU64(o.publisher_id, 'envelope.publisher_id'),
    sequence: readU64(o.sequence, 'envelope.sequence'),
    published_at: readU64(o.published_at ?? 0, 'envelope.published_at'),
    topic: o.topic === undefined || o.topic === null ? '' : readString(o.topic, 'envelope.topic'),
    payload: readPayload(o.payload),
  };
}

/** serde writes `Vec<u8>` as bin (with serde_bytes) or as an array of small ints; accept both. */
function readPayload(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const b = value[i];
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) {
        throw new DecodeError(`envelope.payload[${i}]`, `expected a byte, got ${describe(b)}`);
      }
      out[i] = b;
    }
    return out;
  }
  throw new DecodeError('envelope.payload', `expected bytes, got ${describe(value)}`);
}
