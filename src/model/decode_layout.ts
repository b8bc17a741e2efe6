/**
 * The parameter layout of generation (decode): what the fused decode kernels read, packed once
 * by the {@link Generator} when it uploads the weights. Per layer, one block holds rms_att,
 * wqkv = [wq; wk; wv] (so one matvec makes q, k and v), wo, rms_ffn, w13 (the rows of w1 and w3
 * interleaved: row 2i is w1[i], row 2i + 1 is w3[i], so one invocation gets both inputs of
 * SwiGLU element i) and w2. Every tensor starts on a 256-byte boundary so it can be bound alone.
 *
 * @module
 */
import { kvDim, type ModelConfig } from "./config.ts";
import { ALIGN_FLOATS, type TensorName, type TensorTable } from "./tensors.ts";

/** Float offsets of the decode layout (all multiples of {@link ALIGN_FLOATS}). */
export interface DecodeLayout {
  /** tok_embeddings [V, C]. */
  emb: number;
  /** Start of layer 0's block. */
  layer0: number;
  /** Floats from one layer's block to the next. */
  layerStride: number;
  /** Offsets inside a layer block: rms_att [C]. */
  rmsAtt: number;
  /** wqkv [C + 2 KV, C]. */
  wqkv: number;
  /** wo [C, C]. */
  wo: number;
  /** rms_ffn [C]. */
  rmsFfn: number;
  /** w13 [2 H, C], w1 and w3 rows interleaved. */
  w13: number;
  /** w2 [C, H]. */
  w2: number;
  /** rms_final [C]. */
  rmsFinal: number;
  /** The classifier [V, C] (equal to emb when tied). */
  wcls: number;
  /** Total floats. */
  size: number;
}

const _round = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

/**
 * The decode layout of a config.
 *
 * @example
 * ```ts
 * const lay = decodeLayout(modelConfig({ dim: 64, n_layers: 2, vocab_size: 512 }));
 * lay.wqkv; // 64: right after rms_att in each layer block
 * ```
 */
export function decodeLayout(c: ModelConfig): DecodeLayout {
  const C = c.dim, H = c.hidden_dim, V = c.vocab_size, KV = kvDim(c);
  const emb = 0;
  const layer0 = _round(V * C);
  const rmsAtt = 0;
  const wqkv = _round(C);
  const wo = wqkv + _round((C + 2 * KV) * C);
  const rmsFfn = wo + _round(C * C);
  const w13 = rmsFfn + _round(C);
  const w2 = w13 + _round(2 * H * C);
  const layerStride = w2 + _round(C * H);
  const rmsFinal = layer0 + c.n_layers * layerStride;
  const wcls = c.shared_classifier ? emb : rmsFinal + _round(C);
  const size = c.shared_classifier ? rmsFinal + _round(C) : wcls + _round(V * C);
  return { emb, layer0, layerStride, rmsAtt, wqkv, wo, rmsFfn, w13, w2, rmsFinal, wcls, size };
}

/**
 * Copies flat parameters (tensor-table layout) into the decode layout.
 *
 * @param c the model's shape
 * @param table its tensor table
 * @param params flat parameters in the table's layout
 * @returns the packed floats ({@link decodeLayout}'s size)
 */
export function packDecodeParams(
  c: ModelConfig,
  table: TensorTable,
  params: Float32Array,
): Float32Array<ArrayBuffer> {
  const lay = decodeLayout(c), out = new Float32Array(lay.size);
  const C = c.dim, H = c.hidden_dim;
  const src = (name: TensorName, layer = 0) => {
    const e = table.byName.get(name)!;
    const o = e.offset + layer * e.layerStride;
    return params.subarray(o, o + e.layerNumel);
  };
  out.set(src("tok_embeddings"), lay.emb);
  for (let l = 0; l < c.n_layers; l++) {
    const b = lay.layer0 + l * lay.layerStride;
    out.set(src("rms_att", l), b + lay.rmsAtt);
    const wq = src("wq", l), wk = src("wk", l);
    out.set(wq, b + lay.wqkv);
    out.set(wk, b + lay.wqkv + wq.length);
    out.set(src("wv", l), b + lay.wqkv + wq.length + wk.length);
    out.set(src("wo", l), b + lay.wo);
    out.set(src("rms_ffn", l), b + lay.rmsFfn);
    const w1 = src("w1", l), w3 = src("w3", l);
    for (let i = 0; i < H; i++) {
      out.set(w1.subarray(i * C, (i + 1) * C), b + lay.w13 + 2 * i * C);
      out.set(w3.subarray(i * C, (i + 1) * C), b + lay.w13 + (2 * i + 1) * C);
    }
    out.set(src("w2", l), b + lay.w2);
  }
  out.set(src("rms_final"), lay.rmsFinal);
  if (!c.shared_classifier) out.set(src("wcls"), lay.wcls);
  return out;
}
