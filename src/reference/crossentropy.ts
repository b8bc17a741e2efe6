/**
 * f64 reference of softmax cross-entropy and the loss mean (test oracle).
 *
 * @module
 */

/** Per-row losses (0 for targets < 0) and log-sum-exp of logits [R,V]. */
export function crossentropyForward(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  { R, V }: { R: number; V: number },
): { losses: Float64Array; lse: Float64Array } {
  const losses = new Float64Array(R), lse = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    if (targets[r] < 0) continue;
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[r * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - m);
    lse[r] = m + Math.log(s);
    losses[r] = lse[r] - logits[r * V + targets[r]];
  }
  return { losses, lse };
}

/** Gradient of `sum(losses) * dloss` with respect to the logits (0 rows for ignored targets). */
export function crossentropyBackward(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  dloss: number,
  { R, V }: { R: number; V: number },
): Float64Array {
  const { lse } = crossentropyForward(logits, targets, { R, V });
  const d = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    if (targets[r] < 0) continue;
    for (let j = 0; j < V; j++) {
      d[r * V + j] = (Math.exp(logits[r * V + j] - lse[r]) - (j === targets[r] ? 1 : 0)) * dloss;
    }
  }
  return d;
}

/** `sum(losses) * scale`. */
export function lossMean(losses: ArrayLike<number>, scale: number): number {
  let s = 0;
  for (let i = 0; i < losses.length; i++) s += losses[i];
  return s * scale;
}
