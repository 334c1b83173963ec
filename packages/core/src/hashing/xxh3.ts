import { readU64s, SCRATCH_BASE, scratchBytes, writeU64s, xxh3Wasm } from './xxh3-wasm.ts';

// XXH3-64 runs in our own WebAssembly module (wasm/xxh3.ts); see docs/decisions/002-xxh3-backend.md.
// Inputs are copied into WASM memory, so callers may pass any Uint8Array view.

/** XXH3-64 of `bytes` with a u64 seed. */
export function xxh3_64(bytes: Uint8Array, seed: bigint): bigint {
  scratchBytes(bytes.length).set(bytes, SCRATCH_BASE);
  return BigInt.asUintN(64, xxh3Wasm.hash(SCRATCH_BASE, bytes.length, seed));
}

const utf8 = new TextEncoder();

export function xxh3_64_utf8(text: string, seed: bigint): bigint {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit; encode straight into WASM memory.
  const scratch = scratchBytes(text.length * 3).subarray(SCRATCH_BASE, SCRATCH_BASE + text.length * 3);
  const { written } = utf8.encodeInto(text, scratch);
  return BigInt.asUintN(64, xxh3Wasm.hash(SCRATCH_BASE, written, seed));
}

/**
 * XXH3-64 of `count` windows of `window` bytes starting every `stride` bytes of `bytes`, all with one
 * seed, in a single call into WASM: result[i] = xxh3_64(bytes[i*stride, i*stride + window), seed).
 */
export function xxh3_64_windows(
  bytes: Uint8Array,
  window: number,
  stride: number,
  count: number,
  seed: bigint,
): BigUint64Array {
  assertLength('window', window);
  assertLength('stride', stride);
  assertLength('count', count);
  if (count === 0) return new BigUint64Array(0);
  const span = (count - 1) * stride + window;
  if (span > bytes.length) {
    throw new RangeError(
      `${count} windows of ${window} bytes at stride ${stride} need ${span} bytes, got ${bytes.length}`,
    );
  }
  const out = SCRATCH_BASE + Math.ceil(span / 8) * 8;
  scratchBytes(out - SCRATCH_BASE + count * 8).set(bytes.subarray(0, span), SCRATCH_BASE);
  xxh3Wasm.hashBlocks(SCRATCH_BASE, window, stride, count, seed, out);
  return readU64s(out, count);
}

function assertLength(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

/**
 * The chain c[0] = v[0], c[i] = xxh3_64(LE64(c[i-1]) ‖ LE64(v[i]), seed), in one call into WASM.
 * Values wrap to u64 like BigInt.asUintN(64, v).
 */
export function xxh3_64_chain(values: BigUint64Array | readonly bigint[], seed: bigint): BigUint64Array {
  if (values.length === 0) return new BigUint64Array(0);
  writeU64s(SCRATCH_BASE, values);
  xxh3Wasm.hashChain(SCRATCH_BASE, values.length, seed);
  return readU64s(SCRATCH_BASE, values.length);
}
