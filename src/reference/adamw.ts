/**
 * f64 reference of the global gradient norm and AdamW (test oracle).
 *
 * @module
 */

/** `[sqrt(sum grads²), clip > 0 ? min(1, clip / (norm + 1e-6)) : 1]`. */
export function globalNorm(grads: ArrayLike<number>, clip: number): [number, number] {
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += grads[i] * grads[i];
  const n = Math.sqrt(s);
  return [n, clip > 0 ? Math.min(1, clip / (n + 1e-6)) : 1];
}

/** AdamW hyperparameters of one step, as the trainer writes them to `hyper`. */
export interface AdamwHyper {
  /** Learning rate. */
  lr: number;
  /** First moment decay. */
  beta1: number;
  /** Second moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** `1 - beta1^step`. */
  bc1: number;
  /** `1 - beta2^step`. */
  bc2: number;
}

/**
 * One AdamW step in place (torch.optim.AdamW's order), gradient scaled by `gscale`.
 */
export function adamwUpdate(
  params: Float64Array,
  grads: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  h: AdamwHyper,
  gscale: number,
  weight_decay: number,
): void {
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * gscale;
    params[i] *= 1 - h.lr * weight_decay;
    m[i] = m[i] * h.beta1 + (1 - h.beta1) * g;
    v[i] = v[i] * h.beta2 + (1 - h.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / Math.sqrt(h.bc2) + h.eps;
    params[i] -= (h.lr / h.bc1) * (m[i] / denom);
  }
}
