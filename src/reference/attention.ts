/**
 * f64 reference of causal grouped-query attention (test oracle): the plain T x T computation.
 *
 * @module
 */
import type { AttentionSizes } from "../ops/attention.ts";

export type { AttentionSizes };

/** Softmax probabilities P[b,h,t,s] (0 for s > t) and log-sum-exp per row. */
function _probs(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  { B, T, NH, NKV, HS }: AttentionSizes,
): { P: Float64Array; lse: Float64Array } {
  const P = new Float64Array(B * NH * T * T);
  const lse = new Float64Array(B * NH * T);
  const rep = NH / NKV, scale = 1 / Math.sqrt(HS);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const row = ((b * NH + h) * T + t) * T;
        let m = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < HS; d++) {
            dot += q[((b * T + t) * NH + h) * HS + d] * k[((b * T + s) * NKV + g) * HS + d];
          }
          P[row + s] = dot * scale;
          m = Math.max(m, P[row + s]);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += Math.exp(P[row + s] - m);
        for (let s = 0; s <= t; s++) P[row + s] = Math.exp(P[row + s] - m) / sum;
        lse[(b * NH + h) * T + t] = m + Math.log(sum);
      }
    }
  }
  return { P, lse };
}

/**
 * `out = softmax(q kᵀ / sqrt(HS) + causal mask) v` with kv head `h / (NH / NKV)`.
 *
 * @returns out [B,T,NH,HS] and lse [B,NH,T]
 */
export function attentionForward(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  sizes: AttentionSizes,
): { out: Float64Array; lse: Float64Array } {
  const { B, T, NH, NKV, HS } = sizes;
  const { P, lse } = _probs(q, k, sizes);
  const out = new Float64Array(B * T * NH * HS);
  const rep = NH / NKV;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const row = ((b * NH + h) * T + t) * T, o = ((b * T + t) * NH + h) * HS;
        for (let s = 0; s <= t; s++) {
          const vo = ((b * T + s) * NKV + g) * HS;
          for (let d = 0; d < HS; d++) out[o + d] += P[row + s] * v[vo + d];
        }
      }
    }
  }
  return { out, lse };
}

/**
 * Gradients of {@link attentionForward}'s `out` with respect to q, k and v, given `dout`.
 *
 * @returns dq [B,T,NH,HS], dk and dv [B,T,NKV,HS]
 */
export function attentionBackward(
  dout: ArrayLike<number>,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  sizes: AttentionSizes,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, T, NH, NKV, HS } = sizes;
  const { P } = _probs(q, k, sizes);
  const dq = new Float64Array(B * T * NH * HS);
  const dk = new Float64Array(B * T * NKV * HS);
  const dv = new Float64Array(B * T * NKV * HS);
  const rep = NH / NKV, scale = 1 / Math.sqrt(HS);
  const dP = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const row = ((b * NH + h) * T + t) * T, o = ((b * T + t) * NH + h) * HS;
        let D = 0;
        for (let s = 0; s <= t; s++) {
          const vo = ((b * T + s) * NKV + g) * HS;
          let dot = 0;
          for (let d = 0; d < HS; d++) {
            dot += dout[o + d] * v[vo + d];
            dv[vo + d] += P[row + s] * dout[o + d];
          }
          dP[s] = dot;
          D += P[row + s] * dot;
        }
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * NKV + g) * HS;
          const dS = P[row + s] * (dP[s] - D) * scale;
          for (let d = 0; d < HS; d++) {
            dq[o + d] += dS * k[ko + d];
            dk[ko + d] += dS * q[o + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
