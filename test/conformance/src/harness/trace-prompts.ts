import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace, type TraceRequest } from '@kvindex/simulator';
import { REPO_ROOT } from './services.ts';
import { FIRST_WORD_TOKEN, TINY_VOCAB } from './tiny-model.ts';

/** The in-repo Mooncake slice (packages/simulator/traces/README.md). */
export const TRACE_SLICE = join(REPO_ROOT, 'packages', 'simulator', 'traces', 'conversation-slice.jsonl');

export function loadTraceSlice(limit: number): TraceRequest[] {
  return parseTrace(readFileSync(TRACE_SLICE, 'utf8'), { limit, source: TRACE_SLICE });
}

/**
 * A trace request as a prompt the tiny tokenizer can spell: each 512-token hash id becomes
 * `tokensPerId` word tokens drawn from a generator seeded by the id, so equal ids at equal
 * positions still share a prefix (the trace's reuse) while the prompt stays short enough for a
 * small mocker cache to evict. Long requests keep their first `maxIds` ids (a prompt larger
 * than the engine's cache is refused by the mocker).
 */
export function promptTokens(request: TraceRequest, tokensPerId: number, maxIds = 32): number[] {
  const out: number[] = [];
  for (const id of request.hashIds.slice(0, maxIds)) {
    let state = (id * 2654435761 + 0x9e3779b9) >>> 0 || 1;
    for (let j = 0; j < tokensPerId; j++) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      out.push(FIRST_WORD_TOKEN + (state % (TINY_VOCAB - FIRST_WORD_TOKEN)));
    }
  }
  return out;
}
