/**
 * The learning-rate schedule and the MFU estimate of llama2.c's train.py and model.py.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";
import { tensorTable } from "../model/tensors.ts";

/** The settings {@link getLr} reads (a {@link TrainConfig} has them all). */
export interface LrSettings {
  /** Peak learning rate. */
  learning_rate: number;
  /** Linear warmup steps. */
  warmup_iters: number;
  /** End of the cosine decay (train.py sets lr_decay_iters = max_iters). */
  max_iters: number;
  /** false: constant learning rate. */
  decay_lr: boolean;
}

/** train.py's min_lr: the cosine decays to zero. */
export const MIN_LR = 0.0;

/**
 * train.py's `get_lr(it)`: `learning_rate * it / warmup_iters` while `it < warmup_iters`, then a
 * cosine from `learning_rate` at `warmup_iters` down to `min_lr` (0) at `max_iters`, `min_lr`
 * after it; `learning_rate` throughout when `decay_lr` is false.
 *
 * Where train.py would divide 0 by 0 (`warmup_iters == max_iters == it`) this returns
 * `learning_rate`, the value the cosine starts from.
 *
 * @param it optimizer step (0-based)
 * @throws {RangeError} when it is negative or not an integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getLr } from "./schedule.ts";
 *
 * const s = { learning_rate: 5e-4, warmup_iters: 1000, max_iters: 100000, decay_lr: true };
 * assert.equal(getLr(0, s), 0);
 * assert.equal(getLr(500, s), 2.5e-4);
 * assert.equal(getLr(1000, s), 5e-4);
 * ```
 */
export function getLr(it: number, s: LrSettings): number {
  if (!Number.isInteger(it) || it < 0) {
    throw new RangeError(
      `Cannot compute the learning rate: step must be an integer >= 0, got ${it}`,
    );
  }
  if (!s.decay_lr) return s.learning_rate;
  const lrDecayIters = s.max_iters;
  if (it < s.warmup_iters) return (s.learning_rate * it) / s.warmup_iters;
  if (it > lrDecayIters) return MIN_LR;
  if (lrDecayIters === s.warmup_iters) return s.learning_rate;
  const decayRatio = (it - s.warmup_iters) / (lrDecayIters - s.warmup_iters);
  const coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
  return MIN_LR + coeff * (s.learning_rate - MIN_LR);
}

/**
 * FLOPs per token of one forward+backward, as llama2.c's `estimate_mfu` counts them (PaLM
 * appendix B): `6N + 12·L·H·Q·T` with N the parameter count (tied classifier counted once), L
 * layers, H heads, Q head size and T = max_seq_len.
 */
export function flopsPerToken(cfg: ModelConfig): number {
  const N = tensorTable(cfg).numParams;
  const L = cfg.n_layers, H = cfg.n_heads, Q = cfg.dim / cfg.n_heads, T = cfg.max_seq_len;
  return 6 * N + 12 * L * H * Q * T;
}

/**
 * Model FLOPs utilisation: achieved FLOP/s (by {@link flopsPerToken}) over `peakFlops`.
 * llama2.c's `estimate_mfu(fwdbwd_per_iter, dt)` equals
 * `estimateMfu(cfg, fwdbwd_per_iter * cfg.max_seq_len, dt, 312e12)`.
 *
 * @param tokensPerIter tokens processed in `dtSeconds` (B · T · gradient accumulation steps)
 * @param dtSeconds wall time of that work
 * @param peakFlops the adapter's peak FLOP/s
 * @returns a fraction (0.05 = 5 %)
 * @throws {RangeError} unless dtSeconds and peakFlops are positive
 * @example
 * ```ts
 * import { modelConfig } from "../model/config.ts";
 * import { estimateMfu } from "./schedule.ts";
 *
 * console.log(estimateMfu(modelConfig(), 4 * 128 * 256, 1.0, 312e12)); // a fraction
 * ```
 */
export function estimateMfu(
  cfg: ModelConfig,
  tokensPerIter: number,
  dtSeconds: number,
  peakFlops: number,
): number {
  if (!(dtSeconds > 0) || !(peakFlops > 0)) {
    throw new RangeError(
      `Cannot estimate MFU: dt (${dtSeconds}) and peak FLOP/s (${peakFlops}) must be positive`,
    );
  }
  return (flopsPerToken(cfg) * tokensPerIter) / dtSeconds / peakFlops;
}
