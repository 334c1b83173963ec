/**
 * Picking one candidate from its logits, as Dynamo's default picker does: at temperature 0 the
 * lowest logit, ties going to the worker with the smallest cached tree (the least loaded cache),
 * then uniformly at random; at T > 0 a draw with p ∝ exp(−(logit − min) / ((max − min) · T)),
 * uniform when every logit is equal. Normalising by the range makes T independent of the scale.
 */

export interface Scored<K> {
  key: K;
  logit: number;
  /** Blocks the worker holds in the index; only consulted to break exact ties at T = 0. */
  treeSize: number;
}

/** A uniform draw in [0, 1). */
export type RandomSource = () => number;

export function selectCandidate<K>(
  candidates: readonly Scored<K>[],
  temperature: number,
  random: RandomSource,
): Scored<K> {
  if (candidates.length === 0) throw new RangeError('no candidates to select from');
  if (temperature === 0) return argmin(candidates, random);
  return sample(candidates, temperature, random);
}

function argmin<K>(candidates: readonly Scored<K>[], random: RandomSource): Scored<K> {
  let best = candidates[0]!;
  let ties = 1;
  for (let i = 1; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.logit < best.logit || (c.logit === best.logit && c.treeSize < best.treeSize)) {
      best = c;
      ties = 1;
    } else if (c.logit === best.logit && c.treeSize === best.treeSize) {
      // Reservoir sampling: each of the k tied candidates ends up chosen with probability 1/k.
      ties++;
      if (Math.floor(random() * ties) === 0) best = c;
    }
  }
  return best;
}

/** Selection probabilities at temperature T > 0, in candidate order. */
export function softmaxProbabilities(logits: readonly number[], temperature: number): number[] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const l of logits) {
    if (l < min) min = l;
    if (l > max) max = l;
  }
  if (min === max) return logits.map(() => 1 / logits.length);
  const scale = 1 / ((max - min) * temperature);
  const weights = logits.map((l) => Math.exp(-(l - min) * scale));
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / sum);
}

function sample<K>(candidates: readonly Scored<K>[], temperature: number, random: RandomSource): Scored<K> {
  const p = softmaxProbabilities(
    candidates.map((c) => c.logit),
    temperature,
  );
  const draw = random();
  let cumulative = 0;
  for (let i = 0; i < p.length; i++) {
    cumulative += p[i]!;
    if (draw < cumulative) return candidates[i]!;
  }
  return candidates[candidates.length - 1]!;
}
