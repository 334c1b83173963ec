// XXH3-64 backends for @kvindex/core's block hashing, measured on one 128k-token sequence.
// Run: pnpm bench:hash (from the repo root)
// Results and the choice they led to: docs/benchmarks.md (## Hashing), docs/decisions/002-xxh3-backend.md.

import { cpus, loadavg } from 'node:os';
import {
  computeBlockHashes,
  computeSequenceHashes,
  DYNAMO_HASH_SEED,
  xxh3_64,
  xxh3_64_chain,
  xxh3_64_windows,
} from '@kvindex/core';
import { xxh3 } from '@node-rs/xxhash';
import { createXXHash3 } from 'hash-wasm';
import xxhash from 'xxhash-wasm';
import { markdownTable, medianMs, nsPerCall } from './hash-timing.ts';

const TOKENS = 128 * 1024;
const BLOCK_SIZES = [16, 64] as const;
const SEED = DYNAMO_HASH_SEED;

/** Deterministic random u32 tokens (xorshift32), so every run hashes the same sequence. */
function randomTokens(count: number, seed = 0x9e3779b9): Uint32Array {
  const out = new Uint32Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return out;
}

const hashWasm = await createXXHash3(Number(SEED & 0xffffffffn), Number(SEED >> 32n));
const xxh64Wasm = await xxhash();

function hashWasmXxh3(bytes: Uint8Array): bigint {
  const digest = hashWasm.init().update(bytes).digest('binary');
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, false); // canonical: big-endian
}

interface BlockCandidate {
  readonly name: string;
  /** False for XXH64: a speed reference that computes a different hash. */
  readonly xxh3: boolean;
  hash(bytes: Uint8Array, blockBytes: number, count: number): BigUint64Array;
}

function perBlock(hashOne: (block: Uint8Array) => bigint) {
  return (bytes: Uint8Array, blockBytes: number, count: number) => {
    const out = new BigUint64Array(count);
    for (let b = 0; b < count; b++) out[b] = hashOne(bytes.subarray(b * blockBytes, (b + 1) * blockBytes));
    return out;
  };
}

const blockCandidates: readonly BlockCandidate[] = [
  {
    name: '@node-rs/xxhash xxh3, per block (native NAPI)',
    xxh3: true,
    hash: perBlock((b) => xxh3.xxh64(b, SEED)),
  },
  { name: 'hash-wasm createXXHash3, per block', xxh3: true, hash: perBlock(hashWasmXxh3) },
  {
    name: 'xxhash-wasm XXH64, per block (wrong hash)',
    xxh3: false,
    hash: perBlock((b) => xxh64Wasm.h64Raw(b, SEED)),
  },
  { name: 'kvindex WASM xxh3_64, per block', xxh3: true, hash: perBlock((b) => xxh3_64(b, SEED)) },
  {
    name: 'kvindex WASM xxh3_64_windows, one batch call',
    xxh3: true,
    hash: (bytes, blockBytes, count) => xxh3_64_windows(bytes, blockBytes, blockBytes, count, SEED),
  },
];

interface ChainCandidate {
  readonly name: string;
  chain(local: BigUint64Array): BigUint64Array;
}

function perPair(hashPair: (pair: Uint8Array) => bigint) {
  return (local: BigUint64Array) => {
    const out = new BigUint64Array(local.length);
    const pair = new BigUint64Array(2);
    const pairBytes = new Uint8Array(pair.buffer);
    out[0] = local[0]!;
    for (let i = 1; i < local.length; i++) {
      pair[0] = out[i - 1]!;
      pair[1] = local[i]!;
      out[i] = hashPair(pairBytes);
    }
    return out;
  };
}

const chainCandidates: readonly ChainCandidate[] = [
  { name: '@node-rs/xxhash xxh3, per pair', chain: perPair((p) => xxh3.xxh64(p, SEED)) },
  { name: 'hash-wasm createXXHash3, per pair', chain: perPair(hashWasmXxh3) },
  { name: 'kvindex WASM xxh3_64, per pair', chain: perPair((p) => xxh3_64(p, SEED)) },
  { name: 'kvindex WASM xxh3_64_chain, one batch call', chain: (local) => xxh3_64_chain(local, SEED) },
];

const fmtMs = (ms: number) => ms.toFixed(ms < 1 ? 3 : 2);
const fmtRate = (perSecond: number) => `${(perSecond / 1e6).toFixed(1)} M`;
const sameHashes = (a: BigUint64Array, b: BigUint64Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

const tokens = randomTokens(TOKENS);
const tokenBytes = new Uint8Array(tokens.buffer);
const tokenList = Array.from(tokens);

console.log(`# XXH3-64 backends: ${TOKENS} random u32 tokens, seed ${SEED}`);
console.log(
  `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs, ` +
    `load average ${loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()}\n`,
);

console.log('## LocalBlockHash per block: one 128k-token sequence\n');
const blockRows: string[][] = [];
for (const blockSize of BLOCK_SIZES) {
  const blockBytes = blockSize * 4;
  const count = TOKENS / blockSize;
  const reference = perBlock((b) => xxh3.xxh64(b, SEED))(tokenBytes, blockBytes, count);
  for (const c of blockCandidates) {
    const result = c.hash(tokenBytes, blockBytes, count);
    const verdict = c.xxh3 ? (sameHashes(result, reference) ? 'yes' : 'MISMATCH') : 'n/a (XXH64)';
    const ms = medianMs(() => c.hash(tokenBytes, blockBytes, count));
    blockRows.push([c.name, String(blockSize), fmtMs(ms), fmtRate((count / ms) * 1e3), verdict]);
  }
}
console.log(
  markdownTable(['candidate', 'block size', 'median ms / seq', 'blocks/s', 'equals XXH3'], blockRows),
);

console.log('\n## Sequence-hash chain: 8192 links (block size 16)\n');
const local16 = computeBlockHashes(tokens, 16);
const chainReference = perPair((p) => xxh3.xxh64(p, SEED))(local16);
const chainRows = chainCandidates.map((c) => {
  const ok = sameHashes(c.chain(local16), chainReference) ? 'yes' : 'MISMATCH';
  const ms = medianMs(() => c.chain(local16));
  return [c.name, fmtMs(ms), fmtRate((local16.length / ms) * 1e3), ok];
});
console.log(markdownTable(['candidate', 'median ms / chain', 'links/s', 'equals XXH3'], chainRows));

console.log('\n## Per-call overhead\n');
const empty = new Uint8Array(0);
const oneBlock = tokenBytes.subarray(0, 64);
const overheadRows: string[][] = [
  ['@node-rs/xxhash xxh3', (b: Uint8Array) => xxh3.xxh64(b, SEED)] as const,
  ['hash-wasm createXXHash3', hashWasmXxh3] as const,
  ['xxhash-wasm XXH64 (wrong hash)', (b: Uint8Array) => xxh64Wasm.h64Raw(b, SEED)] as const,
  ['kvindex WASM xxh3_64', (b: Uint8Array) => xxh3_64(b, SEED)] as const,
  [
    'kvindex WASM xxh3_64_windows (1 window)',
    (b: Uint8Array) => xxh3_64_windows(b, b.length, 0, 1, SEED),
  ] as const,
].map(([name, fn]) => [
  name,
  nsPerCall(() => fn(empty)).toFixed(0),
  nsPerCall(() => fn(oneBlock)).toFixed(0),
]);
console.log(markdownTable(['call', 'ns / call, 0 bytes', 'ns / call, 64 bytes'], overheadRows));

console.log('\n## End to end: computeBlockHashes + computeSequenceHashes, one 128k-token sequence\n');
const nodeRsChain = perPair((p) => xxh3.xxh64(p, SEED));
const nodeRsBlocks = perBlock((b) => xxh3.xxh64(b, SEED));
const e2eRows: string[][] = [];
for (const blockSize of BLOCK_SIZES) {
  const count = TOKENS / blockSize;
  const cases = [
    [
      'before: @node-rs/xxhash per block + per pair, Uint32Array',
      () => nodeRsChain(nodeRsBlocks(tokenBytes, blockSize * 4, count)),
    ],
    [
      '@kvindex/core (WASM batch), Uint32Array tokens',
      () => computeSequenceHashes(computeBlockHashes(tokens, blockSize)),
    ],
    [
      '@kvindex/core (WASM batch), number[] tokens (validated)',
      () => computeSequenceHashes(computeBlockHashes(tokenList, blockSize)),
    ],
    ['computeBlockHashes only, Uint32Array tokens', () => computeBlockHashes(tokens, blockSize)],
  ] as const;
  const expected = cases[0][1]();
  for (const [name, run] of cases) {
    const result = run();
    const ok =
      result.length === count && (result === expected || sameHashes(result, expected) || count === 0);
    const ms = medianMs(run);
    const verdict = name.startsWith('computeBlockHashes only') ? '(local only)' : ok ? 'yes' : 'MISMATCH';
    e2eRows.push([name, String(blockSize), fmtMs(ms), fmtRate((count / ms) * 1e3), verdict]);
  }
}
console.log(
  markdownTable(['pipeline', 'block size', 'median ms / seq', 'blocks/s', 'equals before'], e2eRows),
);
console.log('\ntarget: <= 0.5 ms per 128k-token sequence at block size 16 on one core');
