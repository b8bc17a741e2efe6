/**
 * f64 reference of RMSNorm (test oracle), row-major plain arrays.
 *
 * @module
 */

/** `rstd[n] = 1/sqrt(mean(inp[n,:]^2) + eps)`, `out = inp * rstd * weight`. */
export function rmsnormForward(
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  N: number,
  C: number,
  eps: number,
): { out: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(N * C), rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += inp[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = inp[n * C + c] * r * weight[c];
  }
  return { out, rstd };
}

/** The gradients `dinp [N,C]` and `dweight [C]` (increments; the kernels add them). */
export function rmsnormBackward(
  dout: ArrayLike<number>,
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  rstd: ArrayLike<number>,
  N: number,
  C: number,
): { dinp: Float64Array; dweight: Float64Array } {
  const dinp = new Float64Array(N * C), dweight = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dout[n * C + c] * weight[c] * inp[n * C + c];
    for (let c = 0; c < C; c++) {
      const i = n * C + c;
      dinp[i] = r * (dout[i] * weight[c] - (inp[i] * r * r * dot) / C);
      dweight[c] += dout[i] * inp[i] * r;
    }
  }
  return { dinp, dweight };
}
