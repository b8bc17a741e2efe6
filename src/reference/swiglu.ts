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

/** {@link swigluForward} with h1 and h3 side by side in each row of `h13 [N, 2H]`; out [N, H]. */
export function swigluPackedForward(h13: ArrayLike<number>, N: number, H: number): Float64Array {
  const { h1, h3 } = _unpack(h13, N, H);
  return swigluForward(h1, h3);
}

/** {@link swigluBackward} for {@link swigluPackedForward}: `dh13 [N, 2H]`, rows `[dh1 | dh3]`. */
export function swigluPackedBackward(
  dout: ArrayLike<number>,
  h13: ArrayLike<number>,
  N: number,
  H: number,
): Float64Array {
  const { h1, h3 } = _unpack(h13, N, H);
  const { dh1, dh3 } = swigluBackward(dout, h1, h3);
  const out = new Float64Array(2 * N * H);
  for (let n = 0; n < N; n++) {
    out.set(dh1.subarray(n * H, (n + 1) * H), 2 * n * H);
    out.set(dh3.subarray(n * H, (n + 1) * H), (2 * n + 1) * H);
  }
  return out;
}

function _unpack(h13: ArrayLike<number>, N: number, H: number) {
  const h1 = new Float64Array(N * H), h3 = new Float64Array(N * H);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < H; c++) {
      h1[n * H + c] = h13[2 * n * H + c];
      h3[n * H + c] = h13[2 * n * H + H + c];
    }
  }
  return { h1, h3 };
}
