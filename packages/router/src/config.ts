/**
 * The router's knobs, with NVIDIA Dynamo 1.6's names (`--kv-overlap-score-weight`,
 * `--router-temperature`, …) and defaults. `validateRouterConfig` gives the message a CLI shows at
 * start for a value or combination Dynamo would refuse.
 */
export interface RouterConfig {
  /** Weight of the prefill term against the decode term (Dynamo `overlap_score_weight`, default 1). */
  overlapScoreWeight: number;
  /** 0 = argmin; T > 0 = softmax sampling over normalised logits (default 0). */
  temperature: number;
  /** false = approximate mode: no engine events, the router's own decisions fill the index. */
  useKvEvents: boolean;
  /** Track in-flight requests' blocks and prefill tokens per worker (default true). */
  trackActiveBlocks: boolean;
  /** Approximate mode: how long a routed chain is assumed cached (default 120 s). */
  ttlSecs: number;
  /** Approximate mode: blocks held before pruning (default 2^20). */
  maxTreeSize: number;
  /** Approximate mode: pruning keeps this fraction of maxTreeSize (default 0.8). */
  pruneTargetRatio: number;
  /** Park requests while every worker's active prefill tokens exceed threshold × capacity; undefined = never. */
  queueThreshold: number | undefined;
  /** A worker's batch capacity in tokens for the queue (Dynamo's default when unconfigured: 10,000,000). */
  maxNumBatchedTokens: number;
  /** In-flight requests older than this are freed as stale (Dynamo: 300 s, checked every 30 s). */
  requestExpirySecs: number;
}

export const DEFAULT_MAX_NUM_BATCHED_TOKENS = 10_000_000;

export function defaultRouterConfig(): RouterConfig {
  return {
    overlapScoreWeight: 1,
    temperature: 0,
    useKvEvents: true,
    trackActiveBlocks: true,
    ttlSecs: 120,
    maxTreeSize: 2 ** 20,
    pruneTargetRatio: 0.8,
    queueThreshold: undefined,
    maxNumBatchedTokens: DEFAULT_MAX_NUM_BATCHED_TOKENS,
    requestExpirySecs: 300,
  };
}

/** The first problem with a configuration, or undefined when it is usable. */
export function routerConfigError(c: RouterConfig): string | undefined {
  const finiteNonNegative = (name: string, v: number) =>
    Number.isFinite(v) && v >= 0 ? undefined : `${name} must be a finite, non-negative number, got ${v}`;
  const problem =
    finiteNonNegative('overlap score weight', c.overlapScoreWeight) ??
    finiteNonNegative('router temperature', c.temperature) ??
    finiteNonNegative('router ttl secs', c.ttlSecs) ??
    (c.queueThreshold !== undefined
      ? finiteNonNegative('router queue threshold', c.queueThreshold)
      : undefined);
  if (problem) return problem;
  if (!Number.isSafeInteger(c.maxTreeSize) || c.maxTreeSize < 1)
    return `router max tree size must be a positive integer, got ${c.maxTreeSize}`;
  if (!(c.pruneTargetRatio > 0 && c.pruneTargetRatio <= 1))
    return `router prune target ratio must be in (0, 1], got ${c.pruneTargetRatio}`;
  if (!Number.isSafeInteger(c.maxNumBatchedTokens) || c.maxNumBatchedTokens < 1)
    return `max num batched tokens must be a positive integer, got ${c.maxNumBatchedTokens}`;
  if (!(c.requestExpirySecs > 0)) return `request expiry must be positive, got ${c.requestExpirySecs}`;
  return undefined;
}
