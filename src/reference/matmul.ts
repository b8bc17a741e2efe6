/**
 * f64 reference of the bias-free linear layer (test oracle): row-major plain arrays.
 *
 * @module
 */

/** `out[N,OC] = inp[N,C] · weight[OC,C]ᵀ`. */
export function matmulForward(
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  N: number,
  C: number,
  OC: number,
): Float64Array {
  const out = new Float64Array(N * OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += inp[n * C + c] * weight[o * C + c];
      out[n * OC + o] = s;
    }
  }
  return out;
}

/** `dinp[N,C] = dout[N,OC] · weight[OC,C]`. */
export function matmulBackwardDinp(
  dout: ArrayLike<number>,
  weight: ArrayLike<number>,
  N: number,
  C: number,
  OC: number,
): Float64Array {
  const dinp = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const d = dout[n * OC + o];
      for (let c = 0; c < C; c++) dinp[n * C + c] += d * weight[o * C + c];
    }
  }
  return dinp;
}

/** `dweight[OC,C] = dout[N,OC]ᵀ · inp[N,C]` (the increment; the kernel adds it). */
export function matmulBackwardDweight(
  dout: ArrayLike<number>,
  inp: ArrayLike<number>,
  N: number,
  C: number,
  OC: number,
): Float64Array {
  const dweight = new Float64Array(OC * C);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const d = dout[n * OC + o];
      for (let c = 0; c < C; c++) dweight[o * C + c] += d * inp[n * C + c];
    }
  }
  return dweight;
}
