import { xxh3 } from '@node-rs/xxhash';

/** XXH3-64 of `bytes` with a u64 seed. */
export function xxh3_64(bytes: Uint8Array, seed: bigint): bigint {
  return xxh3.xxh64(bytes, seed);
}

const utf8 = new TextEncoder();

export function xxh3_64_utf8(text: string, seed: bigint): bigint {
  return xxh3_64(utf8.encode(text), seed);
}
