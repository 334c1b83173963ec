/**
 * Dynamo's per-candidate cost (lower is better):
 *   logit = overlap_score_weight × prefill_blocks + decode_blocks
 *   prefill_blocks = (active prefill tokens + request tokens − overlap_blocks × block_size) / block_size
 *   decode_blocks  = active blocks + the request's blocks not already active on the worker
 * The cached prefix saves prefill; in-flight work on the worker costs both terms.
 */

export interface CandidateLoad {
  /** Uncached prompt tokens of requests on the worker that have not finished prefill. */
  activePrefillTokens: number;
  /** Distinct blocks of in-flight requests on the worker. */
  activeBlocks: number;
  /** Blocks of this request the worker does not already hold for in-flight requests. */
  newBlocks: number;
}

export interface CostInput {
  overlapBlocks: number;
  requestTokens: number;
  blockSize: number;
  load: CandidateLoad;
  overlapScoreWeight: number;
}

export interface CostTerms {
  prefillBlocks: number;
  decodeBlocks: number;
  logit: number;
}

export function candidateCost(c: CostInput): CostTerms {
  const uncached = Math.max(0, c.requestTokens - c.overlapBlocks * c.blockSize);
  const prefillBlocks = (c.load.activePrefillTokens + uncached) / c.blockSize;
  const decodeBlocks = c.load.activeBlocks + c.load.newBlocks;
  return { prefillBlocks, decodeBlocks, logit: c.overlapScoreWeight * prefillBlocks + decodeBlocks };
}
