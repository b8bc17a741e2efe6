/**
 * f64 reference of the residual add folded into the RMSNorm after it (test oracle).
 *
 * @module
 */
import { rmsnormForward } from "./rmsnorm.ts";

/** `res = inp1 + inp2`, then `rstd` and `out = rmsnorm(res, weight)` per row of C. */
export function residualRmsnormForward(
  inp1: ArrayLike<number>,
  inp2: ArrayLike<number>,
  weight: ArrayLike<number>,
  N: number,
  C: number,
  eps: number,
): { res: Float64Array; out: Float64Array; rstd: Float64Array } {
  const res = new Float64Array(N * C);
  for (let i = 0; i < res.length; i++) res[i] = inp1[i] + inp2[i];
  return { res, ...rmsnormForward(res, weight, N, C, eps) };
}
