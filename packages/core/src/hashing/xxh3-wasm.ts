import { XXH3_WASM_BASE64 } from './xxh3-wasm-bytes.generated.ts';

/** The entries of wasm/xxh3.ts. Pointers and lengths are byte offsets into `memory`; i64 is a BigInt. */
export interface Xxh3WasmExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  hash(input: number, len: number, seed: bigint): bigint;
  hashBlocks(input: number, window: number, stride: number, count: number, seed: bigint, out: number): void;
  hashChain(values: number, count: number, seed: bigint): void;
}

// lib "ES2023" has no WebAssembly typings; this is the little of it the loader uses.
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
}
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// Synchronous on purpose: the hash functions are synchronous and usable right after import.
export const xxh3Wasm = new wasm.Instance(new wasm.Module(decodeBase64(XXH3_WASM_BASE64)), {})
  .exports as Xxh3WasmExports;

const PAGE_BYTES = 65536;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** First scratch byte; 16-aligned, so u64 offsets from it stay 8-aligned. */
export const SCRATCH_BASE = xxh3Wasm.heapBase();

let bytesView = new Uint8Array(xxh3Wasm.memory.buffer);
let wordsView = new BigUint64Array(xxh3Wasm.memory.buffer);

/**
 * Makes `size` scratch bytes from SCRATCH_BASE addressable and returns a byte view of the whole memory.
 * Growing detaches the old ArrayBuffer, so callers take the view from here on every call and never keep
 * it across another call. Calls into the module are synchronous and never call back into JS, so one
 * scratch area serves every caller.
 */
export function scratchBytes(size: number): Uint8Array {
  const memory = xxh3Wasm.memory;
  const needed = SCRATCH_BASE + size;
  if (needed > memory.buffer.byteLength)
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE_BYTES));
  if (bytesView.buffer !== memory.buffer) {
    bytesView = new Uint8Array(memory.buffer);
    wordsView = new BigUint64Array(memory.buffer);
  }
  return bytesView;
}

/** Copies `count` u64s at byte offset `at` (8-aligned) out of WASM memory, which is little-endian. */
export function readU64s(at: number, count: number): BigUint64Array {
  const bytes = scratchBytes(at - SCRATCH_BASE + count * 8);
  if (LITTLE_ENDIAN) return wordsView.slice(at / 8, at / 8 + count);
  const out = new BigUint64Array(count);
  const view = new DataView(bytes.buffer, at, count * 8);
  for (let i = 0; i < count; i++) out[i] = view.getBigUint64(i * 8, true);
  return out;
}

/** Writes u64s (wrapping, like BigInt.asUintN(64, v)) into WASM memory at byte offset `at` (8-aligned). */
export function writeU64s(at: number, values: BigUint64Array | readonly bigint[]): void {
  const bytes = scratchBytes(at - SCRATCH_BASE + values.length * 8);
  if (LITTLE_ENDIAN) {
    wordsView.set(values, at / 8);
    return;
  }
  const view = new DataView(bytes.buffer, at, values.length * 8);
  for (let i = 0; i < values.length; i++) view.setBigUint64(i * 8, BigInt.asUintN(64, values[i]!), true);
}
