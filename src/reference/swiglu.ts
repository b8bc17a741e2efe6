/**
 * f64 reference of the SwiGLU gate (test oracle).
 *
 * @module
 */

function _sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** `out = silu(h1) * h3` with `silu(x) = x * sigmoid(x)`. */
export function swigluForward(h1: ArrayLike<number>, h3: ArrayLike<number>): Float64Array {
  const out = new Float64Array(h1.length);
  for (let i = 0; i < out.length; i++) out[i] = h1[i] * _sigmoid(h1[i]) * h3[i];
  return out;
}

/** `dh1 = dout * h3 * silu'(h1)`, `dh3 = dout * silu(h1)`. */
export function swigluBackward(
  dout: ArrayLike<number>,
  h1: ArrayLike<number>,
  h3: ArrayLike<number>,
): { dh1: Float64Array; dh3: Float64Array } {
  const dh1 = new Float64Array(h1.length), dh3 = new Float64Array(h1.length);
  for (let i = 0; i < h1.length; i++) {
    const s = _sigmoid(h1[i]);
    dh1[i] = dout[i] * h3[i] * (s + h1[i] * s * (1 - s));
    dh3[i] = dout[i] * h1[i] * s;
  }
  return { dh1, dh3 };
}
