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
 * One AdamW step in place (torch.optim.AdamW's order), gradient scaled by `gscale`; a negative
 * `gscale` (the step guard's mark) leaves everything unchanged.
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
  if (gscale < 0) return;
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * gscale;
    params[i] *= 1 - h.lr * weight_decay;
    m[i] = m[i] * h.beta1 + (1 - h.beta1) * g;
    v[i] = v[i] * h.beta2 + (1 - h.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / Math.sqrt(h.bc2) + h.eps;
    params[i] -= (h.lr / h.bc1) * (m[i] / denom);
  }
}

/** The step guard's counters (the `Status` struct of step_guard.wgsl). */
export interface StepStatus {
  /** Steps guarded. */
  steps: number;
  /** Steps skipped. */
  bad: number;
  /** Skipped steps in a row. */
  run: number;
  /** First skipped step (from 1), 0 if none. */
  first: number;
  /** Last skipped step (from 1), 0 if none. */
  last: number;
  /** Loss of the last step. */
  loss: number;
  /** Gradient norm of the last step. */
  norm: number;
  /** Loss of the first skipped step. */
  firstLoss: number;
  /** Gradient norm of the first skipped step. */
  firstNorm: number;
}

/** A zeroed status. */
export function stepStatus(): StepStatus {
  return {
    steps: 0,
    bad: 0,
    run: 0,
    first: 0,
    last: 0,
    loss: 0,
    norm: 0,
    firstLoss: 0,
    firstNorm: 0,
  };
}

/**
 * One step of the guard in place: a step whose gradient norm or loss is NaN or infinite is
 * counted and marked skipped (`gnorm[1] = -1`).
 */
export function stepGuard(status: StepStatus, gnorm: [number, number], loss: number): void {
  status.steps++;
  status.loss = loss;
  status.norm = gnorm[0];
  if (Number.isFinite(gnorm[0]) && Number.isFinite(loss)) {
    status.run = 0;
    return;
  }
  gnorm[1] = -1;
  status.bad++;
  status.run++;
  status.last = status.steps;
  if (status.first === 0) {
    status.first = status.steps;
    status.firstLoss = loss;
    status.firstNorm = gnorm[0];
  }
}
