// XXH3-64 (xxHash 0.8), written in AssemblyScript for @kvindex/core's block hashing.
//
// Compiled by ../scripts/build-wasm.ts. The module allocates nothing: every byte above heapBase()
// belongs to the JS loader (src/hashing/xxh3-wasm.ts), which copies inputs there, calls one entry
// and reads the u64 results back. Batch entries exist because a JS -> WASM call costs far more
// than hashing one 64-byte block.

// biome-ignore-all lint/correctness/noPrecisionLoss: AssemblyScript integer literals are exact u64s, not JS numbers.

const PRIME32_1: u64 = 0x9e3779b1;
const PRIME32_2: u64 = 0x85ebca77;
const PRIME32_3: u64 = 0xc2b2ae3d;
const PRIME64_1: u64 = 0x9e3779b185ebca87;
const PRIME64_2: u64 = 0xc2b2ae3d27d4eb4f;
const PRIME64_3: u64 = 0x165667b19e3779f9;
const PRIME64_4: u64 = 0x85ebca77c2b2ae63;
const PRIME64_5: u64 = 0x27d4eb2f165667c5;
const PRIME_MX1: u64 = 0x165667919e3779f9;
const PRIME_MX2: u64 = 0x9fb21c651e98df25;

const SECRET_SIZE: usize = 192;
const STRIPE_LEN: usize = 64;
const SECRET_CONSUME_RATE: usize = 8;
const STRIPES_PER_BLOCK: usize = (SECRET_SIZE - STRIPE_LEN) / SECRET_CONSUME_RATE;
const BLOCK_LEN: usize = STRIPE_LEN * STRIPES_PER_BLOCK;
const MIDSIZE_MAX: usize = 240;

/** The default secret, kSecret of the reference implementation. */
const K_SECRET: usize = memory.data<u8>([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c, 0xde, 0xd4,
  0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e,
  0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21, 0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43,
  0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb,
  0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19,
  0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7,
  0xc7, 0x0b, 0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78,
  0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16,
  0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f,
  0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
]);

/** The seed-derived secret of the long (> 240 bytes) path; re-derived only when the seed changes. */
const CUSTOM_SECRET: usize = memory.data(<i32>SECRET_SIZE, 16);
let customSecretSeed: u64 = 0;
let customSecretReady = false;

/** First byte the JS loader may use; everything below is this module's static data. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** One seeded XXH3-64 of `len` bytes at `input`. */
export function hash(input: usize, len: usize, seed: u64): u64 {
  return hashWithSecret(input, len, seed, longSecretFor(len, seed));
}

/** XXH3-64 of `count` windows of `window` bytes, `stride` bytes apart, one seed; u64 results at `out`. */
export function hashBlocks(
  input: usize,
  window: usize,
  stride: usize,
  count: usize,
  seed: u64,
  out: usize,
): void {
  const secret = longSecretFor(window, seed);
  for (let i: usize = 0; i < count; i++) {
    store<u64>(out + (i << 3), hashWithSecret(input + i * stride, window, seed, secret));
  }
}

/**
 * Dynamo's sequence-hash chain, in place over `count` u64s at `values`:
 * v[0] stays, v[i] = XXH3-64(LE64(v[i-1]) ‖ LE64(v[i]), seed).
 */
export function hashChain(values: usize, count: usize, seed: u64): void {
  if (count === 0) return;
  let prev = load<u64>(values);
  for (let i: usize = 1; i < count; i++) {
    const at = values + (i << 3);
    prev = hash16(prev, load<u64>(at), seed);
    store<u64>(at, prev);
  }
}

function longSecretFor(len: usize, seed: u64): usize {
  if (len <= MIDSIZE_MAX || seed === 0) return K_SECRET;
  if (!customSecretReady || customSecretSeed !== seed) {
    for (let i: usize = 0; i < SECRET_SIZE; i += 16) {
      store<u64>(CUSTOM_SECRET + i, load<u64>(K_SECRET + i) + seed);
      store<u64>(CUSTOM_SECRET + i + 8, load<u64>(K_SECRET + i + 8) - seed);
    }
    customSecretSeed = seed;
    customSecretReady = true;
  }
  return CUSTOM_SECRET;
}

function hashWithSecret(p: usize, len: usize, seed: u64, longSecret: usize): u64 {
  if (len <= 16) {
    if (len > 8) return len9to16(p, len, seed);
    if (len >= 4) return len4to8(p, len, seed);
    if (len > 0) return len1to3(p, len, seed);
    return xxh64Avalanche(seed ^ (load<u64>(K_SECRET + 56) ^ load<u64>(K_SECRET + 64)));
  }
  if (len <= 128) return len17to128(p, len, seed);
  if (len <= MIDSIZE_MAX) return len129to240(p, len, seed);
  return hashLong(p, len, longSecret);
}

/** Low and high halves of the 128-bit product, folded; WASM has no 64x64 -> 128 multiply. */
function mul128Fold64(a: u64, b: u64): u64 {
  const aLo = a & 0xffffffff;
  const aHi = a >> 32;
  const bLo = b & 0xffffffff;
  const bHi = b >> 32;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const cross = (loLo >> 32) + (hiLo & 0xffffffff) + loHi;
  const upper = (hiLo >> 32) + (cross >> 32) + aHi * bHi;
  return (a * b) ^ upper;
}

function avalanche(h: u64): u64 {
  h ^= h >> 37;
  h *= PRIME_MX1;
  return h ^ (h >> 32);
}

function xxh64Avalanche(h: u64): u64 {
  h ^= h >> 33;
  h *= PRIME64_2;
  h ^= h >> 29;
  h *= PRIME64_3;
  return h ^ (h >> 32);
}

function rrmxmx(h: u64, len: u64): u64 {
  h ^= rotl<u64>(h, 49) ^ rotl<u64>(h, 24);
  h *= PRIME_MX2;
  h ^= (h >> 35) + len;
  h *= PRIME_MX2;
  return h ^ (h >> 28);
}

function len1to3(p: usize, len: usize, seed: u64): u64 {
  const c1 = <u32>load<u8>(p);
  const c2 = <u32>load<u8>(p + (len >> 1));
  const c3 = <u32>load<u8>(p + len - 1);
  const combined: u32 = (c1 << 16) | (c2 << 24) | c3 | ((<u32>len) << 8);
  const bitflip = <u64>(load<u32>(K_SECRET) ^ load<u32>(K_SECRET + 4)) + seed;
  return xxh64Avalanche(<u64>combined ^ bitflip);
}

function len4to8(p: usize, len: usize, seed: u64): u64 {
  const s = seed ^ ((<u64>bswap<u32>(<u32>seed)) << 32);
  const in1 = <u64>load<u32>(p);
  const in2 = <u64>load<u32>(p + len - 4);
  const bitflip = (load<u64>(K_SECRET + 8) ^ load<u64>(K_SECRET + 16)) - s;
  return rrmxmx((in2 + (in1 << 32)) ^ bitflip, <u64>len);
}

function len9to16(p: usize, len: usize, seed: u64): u64 {
  return mix9to16(load<u64>(p), load<u64>(p + len - 8), <u64>len, seed);
}

/** The 9..16-byte path for exactly 16 bytes given as two u64s: one sequence-hash step. */
function hash16(first: u64, second: u64, seed: u64): u64 {
  return mix9to16(first, second, 16, seed);
}

function mix9to16(first: u64, last: u64, len: u64, seed: u64): u64 {
  const bitflip1 = (load<u64>(K_SECRET + 24) ^ load<u64>(K_SECRET + 32)) + seed;
  const bitflip2 = (load<u64>(K_SECRET + 40) ^ load<u64>(K_SECRET + 48)) - seed;
  const lo = first ^ bitflip1;
  const hi = last ^ bitflip2;
  return avalanche(len + bswap<u64>(lo) + hi + mul128Fold64(lo, hi));
}

function mix16B(p: usize, s: usize, seed: u64): u64 {
  return mul128Fold64(load<u64>(p) ^ (load<u64>(s) + seed), load<u64>(p + 8) ^ (load<u64>(s + 8) - seed));
}

function len17to128(p: usize, len: usize, seed: u64): u64 {
  let acc = <u64>len * PRIME64_1;
  if (len > 32) {
    if (len > 64) {
      if (len > 96) {
        acc += mix16B(p + 48, K_SECRET + 96, seed);
        acc += mix16B(p + len - 64, K_SECRET + 112, seed);
      }
      acc += mix16B(p + 32, K_SECRET + 64, seed);
      acc += mix16B(p + len - 48, K_SECRET + 80, seed);
    }
    acc += mix16B(p + 16, K_SECRET + 32, seed);
    acc += mix16B(p + len - 32, K_SECRET + 48, seed);
  }
  acc += mix16B(p, K_SECRET, seed);
  acc += mix16B(p + len - 16, K_SECRET + 16, seed);
  return avalanche(acc);
}

function len129to240(p: usize, len: usize, seed: u64): u64 {
  let acc = <u64>len * PRIME64_1;
  for (let i: usize = 0; i < 8; i++) acc += mix16B(p + (i << 4), K_SECRET + (i << 4), seed);
  // 136 - 17: the last 16 bytes use the tail of the minimal 136-byte secret.
  let accEnd = mix16B(p + len - 16, K_SECRET + 119, seed);
  acc = avalanche(acc);
  const rounds = len >> 4;
  for (let i: usize = 8; i < rounds; i++) accEnd += mix16B(p + (i << 4), K_SECRET + ((i - 8) << 4) + 3, seed);
  return avalanche(acc + accEnd);
}

// The long path keeps its eight accumulators in static memory: AssemblyScript has no way to
// pass eight locals by reference, and the stripe loop is the same for full and partial blocks.
const ACC: usize = memory.data(64, 16);

function hashLong(p: usize, len: usize, secret: usize): u64 {
  store<u64>(ACC, PRIME32_3);
  store<u64>(ACC + 8, PRIME64_1);
  store<u64>(ACC + 16, PRIME64_2);
  store<u64>(ACC + 24, PRIME64_3);
  store<u64>(ACC + 32, PRIME64_4);
  store<u64>(ACC + 40, PRIME32_2);
  store<u64>(ACC + 48, PRIME64_5);
  store<u64>(ACC + 56, PRIME32_1);
  const blocks = (len - 1) / BLOCK_LEN;
  for (let n: usize = 0; n < blocks; n++) {
    accumulate(p + n * BLOCK_LEN, secret, STRIPES_PER_BLOCK);
    scramble(secret + SECRET_SIZE - STRIPE_LEN);
  }
  const stripes = (len - 1 - blocks * BLOCK_LEN) / STRIPE_LEN;
  accumulate(p + blocks * BLOCK_LEN, secret, stripes);
  // The last stripe always ends at the input's end, keyed 7 bytes before the scramble key.
  accumulate512(p + len - STRIPE_LEN, secret + SECRET_SIZE - STRIPE_LEN - 7);
  let result = <u64>len * PRIME64_1;
  for (let i: usize = 0; i < 4; i++) {
    const a = ACC + (i << 4);
    const s = secret + 11 + (i << 4);
    result += mul128Fold64(load<u64>(a) ^ load<u64>(s), load<u64>(a + 8) ^ load<u64>(s + 8));
  }
  return avalanche(result);
}

function accumulate(p: usize, secret: usize, stripes: usize): void {
  for (let n: usize = 0; n < stripes; n++)
    accumulate512(p + n * STRIPE_LEN, secret + n * SECRET_CONSUME_RATE);
}

function accumulate512(p: usize, s: usize): void {
  for (let i: usize = 0; i < 8; i++) {
    const data = load<u64>(p + (i << 3));
    const key = data ^ load<u64>(s + (i << 3));
    const swapped = ACC + ((i ^ 1) << 3);
    store<u64>(swapped, load<u64>(swapped) + data);
    const own = ACC + (i << 3);
    store<u64>(own, load<u64>(own) + (key & 0xffffffff) * (key >> 32));
  }
}

function scramble(s: usize): void {
  for (let i: usize = 0; i < 8; i++) {
    const own = ACC + (i << 3);
    let acc = load<u64>(own);
    acc ^= acc >> 47;
    acc ^= load<u64>(s + (i << 3));
    store<u64>(own, acc * PRIME32_1);
  }
}
