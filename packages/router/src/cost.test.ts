import { describe, expect, it } from 'vitest';
import { candidateCost } from './cost.ts';

const idle = { activePrefillTokens: 0, activeBlocks: 0, newBlocks: 0 };

describe('candidateCost', () => {
  it('charges the uncached prompt as prefill blocks and new blocks as decode blocks', () => {
    // 64 tokens, block 16, 2 blocks cached: (0 + 64 − 32) / 16 = 2 prefill; 0 active + 4 new = 4 decode.
    const t = candidateCost({
      overlapBlocks: 2,
      requestTokens: 64,
      blockSize: 16,
      overlapScoreWeight: 1,
      load: { ...idle, newBlocks: 4 },
    });
    expect(t).toEqual({ prefillBlocks: 2, decodeBlocks: 4, logit: 6 });
  });

  it('adds the worker’s in-flight prefill tokens and active blocks, weighting prefill', () => {
    // (48 + 100 − 3·16) / 16 = 6.25 prefill; 10 + 4 = 14 decode; 2 × 6.25 + 14 = 26.5.
    const t = candidateCost({
      overlapBlocks: 3,
      requestTokens: 100,
      blockSize: 16,
      overlapScoreWeight: 2,
      load: { activePrefillTokens: 48, activeBlocks: 10, newBlocks: 4 },
    });
    expect(t).toEqual({ prefillBlocks: 6.25, decodeBlocks: 14, logit: 26.5 });
  });

  it('weight 0 ignores the cache and prefill entirely', () => {
    const t = candidateCost({
      overlapBlocks: 0,
      requestTokens: 160,
      blockSize: 16,
      overlapScoreWeight: 0,
      load: { activePrefillTokens: 500, activeBlocks: 7, newBlocks: 10 },
    });
    expect(t.logit).toBe(17);
  });
});
