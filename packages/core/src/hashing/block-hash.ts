import { U32_MAX, wrappingAddU64 } from '../u64.ts';
import { xxh3_64, xxh3_64_chain, xxh3_64_utf8, xxh3_64_windows } from './xxh3.ts';

/** Dynamo's fixed seed for block and sequence hashes. */
export const DYNAMO_HASH_SEED = 1337n;

export interface BlockHashOptions {
  /** A non-empty LoRA adapter name salts the seed with XXH3-64(utf8(name), 0). */
  loraName?: string | null | undefined;
  /** A non-empty cache salt (Dynamo's `cache_namespace`) salts the seed with XXH3-64(utf8(salt), 1). */
  cacheSalt?: string | null | undefined;
  /** Multimodal object hashes per block index; hashed after the block's tokens, sorted ascending. */
  mmHashes?: ReadonlyMap<number, readonly bigint[]> | null | undefined;
  /** EAGLE speculative decoding: windows of blockSize + 1 tokens at stride blockSize. */
  eagle?: boolean | undefined;
}

/** The seed Dynamo uses for a block's LocalBlockHash: 1337 plus the LoRA and salt terms, wrapping. */
export function blockHashSeed(loraName?: string | null, cacheSalt?: string | null): bigint {
  let seed = DYNAMO_HASH_SEED;
  if (loraName) seed = wrappingAddU64(seed, xxh3_64_utf8(loraName, 0n));
  if (cacheSalt) seed = wrappingAddU64(seed, xxh3_64_utf8(cacheSalt, 1n));
  return seed;
}

/**
 * Copies token ids into a Uint32Array, refusing anything that is not a u32: a silently wrapped
 * token would hash to a different block than the engine's.
 */
export function toTokenArray(tokens: Uint32Array | readonly number[]): Uint32Array {
  if (tokens instanceof Uint32Array) return tokens;
  const out = new Uint32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    // For a number, `t >>> 0 === t` holds exactly for integers in [0, 2^32-1]: one cheap test per token.
    if (typeof t !== 'number' || t >>> 0 !== t) {
      throw new RangeError(`token_ids[${i}] must be an integer in [0, 2^32-1], got ${String(t)}`);
    }
    out[i] = t;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The tokens as u32 little-endian bytes, without a copy on little-endian hosts. */
function tokenBytes(tokens: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  const bytes = new Uint8Array(tokens.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < tokens.length; i++) view.setUint32(i * 4, tokens[i]!, true);
  return bytes;
}

/** Number of hashed blocks: full blocks only (EAGLE windows need one extra token each). */
export function blockCount(tokenCount: number, blockSize: number, eagle = false): number {
  if (blockSize <= 0) return 0;
  if (eagle) return tokenCount > 0 ? Math.floor((tokenCount - 1) / blockSize) : 0;
  return Math.floor(tokenCount / blockSize);
}

/**
 * LocalBlockHash per full block, bit-exact with Dynamo's `compute_block_hash_for_seq`.
 */
export function computeBlockHashes(
  tokens: Uint32Array | readonly number[],
  blockSize: number,
  options: BlockHashOptions = {},
): BigUint64Array {
  if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize > U32_MAX) {
    throw new RangeError(`blockSize must be an integer in [0, 2^32-1], got ${String(blockSize)}`);
  }
  const ids = toTokenArray(tokens);
  const eagle = options.eagle === true;
  const count = blockCount(ids.length, blockSize, eagle);
  if (count === 0) return new BigUint64Array(0);
  const seed = blockHashSeed(options.loraName, options.cacheSalt);
  const bytes = tokenBytes(ids);
  const window = (eagle ? blockSize + 1 : blockSize) * 4;
  const stride = blockSize * 4;
  // All blocks in one WASM call; the few blocks with multimodal objects are then re-hashed alone.
  const out = xxh3_64_windows(bytes, window, stride, count, seed);
  const mm = options.mmHashes;
  if (mm) {
    for (const [b, objects] of mm) {
      if (!Number.isInteger(b) || b < 0 || b >= count || !objects || objects.length === 0) continue;
      const start = b * stride;
      out[b] = xxh3_64(withMmHashes(bytes.subarray(start, start + window), objects), seed);
    }
  }
  return out;
}

function withMmHashes(blockTokens: Uint8Array, mmHashes: readonly bigint[]): Uint8Array {
  const sorted = [...mmHashes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = new Uint8Array(blockTokens.length + sorted.length * 8);
  buf.set(blockTokens, 0);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < sorted.length; i++) {
    view.setBigUint64(blockTokens.length + i * 8, BigInt.asUintN(64, sorted[i]!), true);
  }
  return buf;
}

/** SequenceHash chain: seq[0] = local[0], seq[i] = XXH3-64(LE64(seq[i-1]) ‖ LE64(local[i]), 1337). */
export function computeSequenceHashes(localHashes: BigUint64Array | readonly bigint[]): BigUint64Array {
  return xxh3_64_chain(localHashes, DYNAMO_HASH_SEED);
}
