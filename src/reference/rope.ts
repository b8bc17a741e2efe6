/**
 * f64 reference of rotary position embedding (test oracle).
 *
 * @module
 */
import type { RopeSizes } from "../ops/rope.ts";

export type { RopeSizes };

/** cos and sin of `t / theta^(2i / HS)` in f64, `[T, HS/2]`. */
export function ropeFreqs(
  HS: number,
  T: number,
  theta = 10000,
): { cos: Float64Array; sin: Float64Array } {
  const half = HS / 2;
  const cos = new Float64Array(T * half), sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t / Math.pow(theta, (2 * i) / HS);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

function _rotate(
  x: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  { B, T, NH, HS }: RopeSizes,
  sign: number,
): Float64Array {
  const out = new Float64Array(B * T * NH * HS), half = HS / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        for (let i = 0; i < half; i++) {
          const o = ((b * T + t) * NH + h) * HS + 2 * i;
          const c = cos[t * half + i], s = sign * sin[t * half + i];
          out[o] = x[o] * c - x[o + 1] * s;
          out[o + 1] = x[o] * s + x[o + 1] * c;
        }
      }
    }
  }
  return out;
}

/** model.py's `apply_rotary_emb` on one tensor [B,T,NH,HS]. */
export function ropeForward(
  inp: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  sizes: RopeSizes,
): Float64Array {
  return _rotate(inp, cos, sin, sizes, 1);
}

/** Gradient of {@link ropeForward} with respect to `inp`: rotation by the opposite angle. */
export function ropeBackward(
  dout: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  sizes: RopeSizes,
): Float64Array {
  return _rotate(dout, cos, sin, sizes, -1);
}
