import {
  computeBlockHashes,
  type JsonValue,
  parseJsonExact,
  routerEventToValue,
  stringifyJsonExact,
} from '@kvindex/core';
import type { Partition } from './registry.ts';

/**
 * The indexer as a remote query service (Dynamo's standalone indexer `kv_indexer_query`
 * endpoint): a request is one of
 *   `{"FindMatchesTokens": {"tokens": [...], "block_mm_infos": null}}`,
 *   `{"FindMatchesHashed": {"block_hashes": [...]}}`, `"DumpTree"`,
 * answered with `{"Matches": {"scores": {"<worker_id>": {"<dp_rank>": blocks}}, "frequencies": []}}`,
 * `{"TreeDump": [RouterEvent...]}` or `{"Error": "message"}`. Scores count device-tier blocks.
 * Bad input is an `Error` answer, never an exception.
 */

export type QueryTarget = () => Partition | undefined;

export function answerIndexerQuery(body: Uint8Array | string, target: QueryTarget): string {
  return stringifyJsonExact(answer(body, target));
}

function error(message: string): JsonValue {
  return { Error: message };
}

function answer(body: Uint8Array | string, target: QueryTarget): JsonValue {
  let request: JsonValue;
  try {
    request = parseJsonExact(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch (err) {
    return error(`invalid JSON: ${(err as Error).message}`);
  }
  const p = target();
  if (request === 'DumpTree') {
    return { TreeDump: p ? (p.index.dump().map(routerEventToValue) as JsonValue[]) : [] };
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return error('expected "DumpTree", {"FindMatchesTokens": ...} or {"FindMatchesHashed": ...}');
  }
  const keys = Object.keys(request);
  if (keys.length !== 1) return error(`expected exactly one request variant, got ${keys.length} keys`);
  const variant = keys[0]!;
  const payload = request[variant];
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
    return error(`${variant}: expected an object`);
  if (variant === 'FindMatchesTokens') {
    const tokens = u64List(payload.tokens, 0n, 0xffff_ffffn);
    if (typeof tokens === 'string') return error(`FindMatchesTokens.tokens: ${tokens}`);
    if (!p) return matches(undefined, new BigUint64Array(0));
    return matches(p, computeBlockHashes(Uint32Array.from(tokens, Number), p.blockSize));
  }
  if (variant === 'FindMatchesHashed') {
    // Dynamo's LocalBlockHash is a u64; a signed (i64) form of the same bits is accepted too.
    const hashes = u64List(payload.block_hashes, -(1n << 63n), (1n << 64n) - 1n);
    if (typeof hashes === 'string') return error(`FindMatchesHashed.block_hashes: ${hashes}`);
    return matches(
      p,
      BigUint64Array.from(hashes, (h) => BigInt.asUintN(64, h)),
    );
  }
  return error(`unknown request variant ${JSON.stringify(variant)}`);
}

function u64List(value: JsonValue | undefined, min: bigint, max: bigint): bigint[] | string {
  if (!Array.isArray(value)) return 'expected an array of integers';
  const out: bigint[] = [];
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    const n =
      typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
    if (n === undefined || n < min || n > max) return `element ${i} is not an integer in [${min}, ${max}]`;
    out.push(n);
  }
  return out;
}

function matches(p: Partition | undefined, hashes: BigUint64Array): JsonValue {
  const scores: Record<string, Record<string, number>> = {};
  if (p && hashes.length > 0) {
    for (const m of p.index.findMatches(hashes)) {
      if (m.device === 0) continue;
      const worker = String(m.workerId);
      scores[worker] ??= {};
      scores[worker][String(m.dpRank)] = m.device;
    }
  }
  return { Matches: { scores, frequencies: [] } };
}
