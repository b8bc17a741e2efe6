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

/** Sizes of the fused-QKV RoPE (q heads NH, k and v heads NKV). */
export interface RopeQkvSizes {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Query heads. */
  NH: number;
  /** Key/value heads. */
  NKV: number;
  /** Head size (even). */
  HS: number;
}

/** Columns [c0, c0 + width) of each of the N rows of a row-major [N, stride] array. */
function _cols(x: ArrayLike<number>, N: number, stride: number, c0: number, width: number) {
  const out = new Float64Array(N * width);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < width; c++) out[n * width + c] = x[n * stride + c0 + c];
  }
  return out;
}

/**
 * The fused QKV matmul's output `qkv [B*T, C+2KV]` (rows `[q | k | v]`) split into attention's
 * inputs: `q = rope(q part)`, `k = rope(k part)`, `v` copied.
 */
export function ropeQkvForward(
  qkv: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  { B, T, NH, NKV, HS }: RopeQkvSizes,
): { q: Float64Array; k: Float64Array; v: Float64Array } {
  const N = B * T, C = NH * HS, KV = NKV * HS, W = C + 2 * KV;
  return {
    q: ropeForward(_cols(qkv, N, W, 0, C), cos, sin, { B, T, NH, HS }),
    k: ropeForward(_cols(qkv, N, W, C, KV), cos, sin, { B, T, NH: NKV, HS }),
    v: _cols(qkv, N, W, C + KV, KV),
  };
}

/** Gradient of {@link ropeQkvForward}: `dqkv [B*T, C+2KV]`, rows `[dq | dk | dv]` before RoPE. */
export function ropeQkvBackward(
  dq: ArrayLike<number>,
  dk: ArrayLike<number>,
  dv: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  { B, T, NH, NKV, HS }: RopeQkvSizes,
): Float64Array {
  const N = B * T, C = NH * HS, KV = NKV * HS, W = C + 2 * KV;
  const gq = ropeBackward(dq, cos, sin, { B, T, NH, HS });
  const gk = ropeBackward(dk, cos, sin, { B, T, NH: NKV, HS });
  const out = new Float64Array(N * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) out[n * W + c] = gq[n * C + c];
    for (let c = 0; c < KV; c++) {
      out[n * W + C + c] = gk[n * KV + c];
      out[n * W + C + KV + c] = dv[n * KV + c];
    }
  }
  return out;
}
