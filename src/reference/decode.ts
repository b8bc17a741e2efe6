/**
 * f64 references of the decode-step ops (test oracles, same names as src/ops/decode.ts), the
 * sampler's choice for a given coin, and a whole-model f64 forward with a KV cache (llama2.c's
 * run.c `forward`).
 *
 * @module
 */
import { headSize, kvDim, type ModelConfig } from "../model/config.ts";
import { type TensorName, tensorTable } from "../model/tensors.ts";
import { bitsAt } from "../util/rng.ts";
import { swigluForward } from "./swiglu.ts";
import { rmsnormForward } from "./rmsnorm.ts";

/** `out = weight[token, :]` for a [V, C] matrix. */
export function embeddingDecode(
  weight: ArrayLike<number>,
  token: number,
  C: number,
): Float64Array {
  const out = new Float64Array(C);
  for (let c = 0; c < C; c++) out[c] = weight[token * C + c];
  return out;
}

/** `out = inp * rsqrt(mean(inp²) + eps) * weight`. */
export function rmsnormDecode(
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  eps: number,
): Float64Array {
  return rmsnormForward(inp, weight, 1, inp.length, eps).out;
}

/**
 * Rotates consecutive pairs of every head of `x` (heads of size HS) by row `pos` of the
 * [S, HS/2] tables: (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos).
 */
export function ropeDecode(
  x: ArrayLike<number>,
  pos: number,
  HS: number,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
): Float64Array {
  const half = HS / 2, out = new Float64Array(x.length);
  for (let e = 0; e < x.length; e += 2) {
    const j = (e % HS) / 2, c = cos[pos * half + j], s = sin[pos * half + j];
    out[e] = x[e] * c - x[e + 1] * s;
    out[e + 1] = x[e] * s + x[e + 1] * c;
  }
  return out;
}

/**
 * Attention of one query [NH*HS] over `T` cached rows of keys and values (each row
 * [NKV*HS], rows concatenated), grouped KV heads.
 */
export function attentionDecode(
  q: ArrayLike<number>,
  keys: ArrayLike<number>,
  values: ArrayLike<number>,
  T: number,
  NH: number,
  NKV: number,
  HS: number,
): Float64Array {
  const KV = NKV * HS, out = new Float64Array(NH * HS), s = new Float64Array(T);
  for (let h = 0; h < NH; h++) {
    const kh = Math.floor(h / (NH / NKV)) * HS;
    let m = -Infinity;
    for (let t = 0; t < T; t++) {
      let d = 0;
      for (let i = 0; i < HS; i++) d += q[h * HS + i] * keys[t * KV + kh + i];
      s[t] = d / Math.sqrt(HS);
      m = Math.max(m, s[t]);
    }
    let z = 0;
    for (let t = 0; t < T; t++) z += s[t] = Math.exp(s[t] - m);
    for (let i = 0; i < HS; i++) {
      let a = 0;
      for (let t = 0; t < T; t++) a += s[t] * values[t * KV + kh + i];
      out[h * HS + i] = a / z;
    }
  }
  return out;
}

/** The sampler's coin at position `pos`: `(bitsAt(seed, pos) >> 8) / 2^24`, in [0, 1). */
export function sampleCoin(seed: number, pos: number): number {
  return (bitsAt(seed, pos) >>> 8) / 16777216;
}

/** The sampler's choice and the set it chose from. */
export interface SampleChoice {
  /** The chosen token. */
  token: number;
  /** Tokens that could be chosen (ascending), with their renormalised probabilities. */
  kept: number[];
  /** Probability of each kept token (same order). */
  probs: number[];
}

/**
 * run.c's sampler in f64 with a given coin: argmax (lowest index on ties) at temperature 0;
 * else softmax(logits / temperature), restricted when 0 < top_p < 1 to the smallest set of
 * most probable tokens whose mass exceeds top_p (ties at the boundary all kept), then the first
 * token in index order whose running kept mass exceeds coin * (kept mass).
 */
export function sample(
  logits: ArrayLike<number>,
  temperature: number,
  topP: number,
  coin: number,
): SampleChoice {
  const V = logits.length;
  let arg = 0;
  for (let i = 1; i < V; i++) if (logits[i] > logits[arg]) arg = i;
  if (temperature === 0) return { token: arg, kept: [arg], probs: [1] };
  const e = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) z += e[i] = Math.exp((logits[i] - logits[arg]) / temperature);
  let threshold = 0;
  if (topP > 0 && topP < 1) {
    const order = [...e.keys()].sort((a, b) => e[b] - e[a]);
    let cum = 0;
    for (const i of order) {
      cum += e[i];
      threshold = e[i];
      if (cum > topP * z) break;
    }
  }
  const kept: number[] = [];
  let mass = 0;
  for (let i = 0; i < V; i++) {
    if (e[i] >= threshold) {
      kept.push(i);
      mass += e[i];
    }
  }
  const r = coin * mass;
  let acc = 0, token = kept[kept.length - 1];
  for (const i of kept) {
    acc += e[i];
    if (acc > r) {
      token = i;
      break;
    }
  }
  return { token, kept, probs: kept.map((i) => e[i] / mass) };
}

/**
 * A whole-model f64 forward, one position at a time with a KV cache (run.c's `forward`).
 *
 * @example
 * ```ts
 * import { readLlama2cFile } from "../io/llama2c.ts";
 * import { headSize } from "../model/config.ts";
 * import { ropeFreqs } from "./rope.ts";
 * import { ReferenceDecoder } from "./decode.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * const fwd = new ReferenceDecoder(config, params, ropeFreqs(headSize(config), config.max_seq_len));
 * const logits = fwd.step(1); // logits after BOS at position 0
 * ```
 */
export class ReferenceDecoder {
  /** Positions processed so far. */
  pos = 0;
  #w: (name: TensorName, layer?: number) => Float32Array;
  #k: Float64Array[];
  #v: Float64Array[];

  /**
   * Views the parameters by tensor and allocates an empty KV cache.
   *
   * @param config the model's shape
   * @param params flat params in the tensor-table layout
   * @param rope cos and sin tables [max_seq_len, HS/2]
   */
  constructor(
    readonly config: ModelConfig,
    params: Float32Array,
    readonly rope: { cos: ArrayLike<number>; sin: ArrayLike<number> },
  ) {
    const table = tensorTable(config);
    this.#w = (name, layer = 0) => {
      const e = table.byName.get(name)!;
      const o = e.offset + layer * e.layerStride;
      return params.subarray(o, o + e.layerNumel);
    };
    const n = config.max_seq_len * kvDim(config);
    this.#k = Array.from({ length: config.n_layers }, () => new Float64Array(n));
    this.#v = Array.from({ length: config.n_layers }, () => new Float64Array(n));
  }

  /** Processes `token` at the next position and returns the logits [V]. */
  step(token: number): Float64Array {
    const c = this.config, C = c.dim, H = c.hidden_dim, KV = kvDim(c), HS = headSize(c);
    const pos = this.pos++;
    if (pos >= c.max_seq_len) throw new RangeError("Cannot step: the sequence is full");
    const mv = (w: Float32Array, x: Float64Array, rows: number) => {
      const out = new Float64Array(rows), n = x.length;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += w[r * n + k] * x[k];
        out[r] = s;
      }
      return out;
    };
    const x = embeddingDecode(this.#w("tok_embeddings"), token, C);
    for (let l = 0; l < c.n_layers; l++) {
      const xn = rmsnormDecode(x, this.#w("rms_att", l), c.norm_eps);
      const q = ropeDecode(mv(this.#w("wq", l), xn, C), pos, HS, this.rope.cos, this.rope.sin);
      const k = ropeDecode(mv(this.#w("wk", l), xn, KV), pos, HS, this.rope.cos, this.rope.sin);
      this.#k[l].set(k, pos * KV);
      this.#v[l].set(mv(this.#w("wv", l), xn, KV), pos * KV);
      const att = attentionDecode(q, this.#k[l], this.#v[l], pos + 1, c.n_heads, c.n_kv_heads, HS);
      const o = mv(this.#w("wo", l), att, C);
      for (let i = 0; i < C; i++) x[i] += o[i];
      const xn2 = rmsnormDecode(x, this.#w("rms_ffn", l), c.norm_eps);
      const g = swigluForward(mv(this.#w("w1", l), xn2, H), mv(this.#w("w3", l), xn2, H));
      const f = mv(this.#w("w2", l), g, C);
      for (let i = 0; i < C; i++) x[i] += f[i];
    }
    const xf = rmsnormDecode(x, this.#w("rms_final"), c.norm_eps);
    return mv(this.#w(c.shared_classifier ? "tok_embeddings" : "wcls"), xf, c.vocab_size);
  }
}
