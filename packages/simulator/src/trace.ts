import { JsonSyntaxError, parseJsonExact } from '@kvindex/core';

/** Mooncake traces give one hash id per 512 prompt tokens. */
export const TOKENS_PER_HASH_ID = 512;

/** One request of a Mooncake FAST'25 trace. */
export interface TraceRequest {
  /** Arrival time in ms. */
  timestamp: number;
  inputLength: number;
  outputLength: number;
  /** Prefix-block ids, 512 tokens each; equal ids at equal positions mean a shared prefix. */
  hashIds: readonly number[];
}

export class TraceFormatError extends Error {
  readonly line: number;
  constructor(line: number, message: string, source = 'trace') {
    super(`${source}:${line}: ${message}`);
    this.name = 'TraceFormatError';
    this.line = line;
  }
}

/** Parses one trace line; `line` is 1-based and only used in errors. Returns null for a blank line. */
export function parseTraceLine(text: string, line: number, source?: string): TraceRequest | null {
  if (text.trim() === '') return null;
  const fail = (message: string): never => {
    throw new TraceFormatError(line, message, source);
  };
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) fail(`invalid JSON: ${err.message}`);
    throw err;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('expected a JSON object');
  const o = value as Record<string, unknown>;
  const count = (name: string): number => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      return fail(`"${name}" must be a non-negative integer, got ${JSON.stringify(String(v))}`);
    }
    return v;
  };
  const timestamp = o.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
    fail(`"timestamp" must be a non-negative number`);
  }
  const inputLength = count('input_length');
  const outputLength = count('output_length');
  if (!Array.isArray(o.hash_ids)) fail('"hash_ids" must be an array');
  const raw = o.hash_ids as unknown[];
  const hashIds: number[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const h = raw[i];
    if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0) {
      fail(`hash_ids[${i}] must be a non-negative integer below 2^53, got ${String(h)}`);
    }
    hashIds[i] = h as number;
  }
  if (inputLength > hashIds.length * TOKENS_PER_HASH_ID) {
    fail(
      `input_length ${inputLength} exceeds the ${hashIds.length} hash ids × ${TOKENS_PER_HASH_ID} tokens they describe`,
    );
  }
  return { timestamp: timestamp as number, inputLength, outputLength, hashIds };
}

export interface ParseTraceOptions {
  /** Stop after this many requests. */
  limit?: number;
  /** Named in errors, e.g. the file path. */
  source?: string;
}

/** Parses a whole trace (JSON lines); blank lines are skipped, any bad line throws a TraceFormatError. */
export function parseTrace(text: string, options: ParseTraceOptions = {}): TraceRequest[] {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const out: TraceRequest[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length && out.length < limit) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const request = parseTraceLine(text.slice(start, end), line, options.source);
    if (request) out.push(request);
    start = end + 1;
  }
  return out;
}

/** 2^23: (h·512) mod 2^32 only depends on h mod 2^23, which keeps the product below 2^32. */
const HASH_ID_MODULUS = 2 ** 23;

/**
 * The request's prompt tokens: hash id h becomes tokens (h·512 + j) mod 2^32 for j = 0..511, cut
 * to input_length. Equal ids give equal tokens, so any block size sees the trace's prefix sharing.
 */
export function expandTokens(request: TraceRequest): Uint32Array {
  const tokens = new Uint32Array(request.inputLength);
  const ids = request.hashIds;
  for (let b = 0, pos = 0; pos < tokens.length; b++) {
    const base = (ids[b]! % HASH_ID_MODULUS) * TOKENS_PER_HASH_ID;
    const end = Math.min(pos + TOKENS_PER_HASH_ID, tokens.length);
    for (let j = 0; pos < end; j++, pos++) tokens[pos] = base + j;
  }
  return tokens;
}
