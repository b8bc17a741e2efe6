/**
 * f64 reference of the token embedding (test oracle), row-major plain arrays.
 *
 * @module
 */

/** `out[n,:] = weight[tokens[n],:]`. */
export function embeddingForward(
  tokens: ArrayLike<number>,
  weight: ArrayLike<number>,
  N: number,
  C: number,
): Float64Array {
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) out[n * C + c] = weight[tokens[n] * C + c];
  }
  return out;
}

/** `dweight [V,C]` with `dweight[v,:] = sum_{n: tokens[n]=v} dout[n,:]` (the increment). */
export function embeddingBackward(
  tokens: ArrayLike<number>,
  dout: ArrayLike<number>,
  N: number,
  C: number,
  V: number,
): Float64Array {
  const dweight = new Float64Array(V * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) dweight[tokens[n] * C + c] += dout[n * C + c];
  }
  return dweight;
}
