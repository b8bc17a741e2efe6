/**
 * The parameter layout of generation (decode): what the fused decode kernels read, packed once
 * by the {@link Generator} when it uploads the weights. Per layer, one block holds rms_att,
 * wqkv = [wq; wk; wv] (so one matvec makes q, k and v), wo, rms_ffn, w13 (the rows of w1 and w3
 * interleaved: row 2i is w1[i], row 2i + 1 is w3[i], so one invocation gets both inputs of
 * SwiGLU element i) and w2. Every tensor starts on a 256-byte boundary so it can be bound alone.
 *
 * Matrices are row-major, or, with `tile` = T > 0, stored in tiles of T rows in which column
 * group k (4 floats) of the T rows comes before column group k + 1: element (r, 4k + c) sits at
 * float ((floor(r / T) * C/4 + k) * T + r mod T) * 4 + c, and the rows are padded with zeros to a
 * multiple of T. A CPU adapter's matvec has each of T/4 invocations take 4 rows of a tile: at
 * every k its loads are T consecutive vec4, one memory stream instead of T (measured 1.8x faster
 * on llvmpipe for the 32000 x 288 classifier).
 *
 * @module
 */
import type { TokenDecodeParams } from "../ops/decode.ts";
import { kvDim, type ModelConfig } from "./config.ts";
import { ALIGN_FLOATS, type TensorName, type TensorTable } from "./tensors.ts";

/** Float offsets of the decode layout (all multiples of {@link ALIGN_FLOATS}). */
export interface DecodeLayout {
  /** Rows per tile of the matrices (0: row-major). */
  tile: number;
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

/** Floats of a [rows, cols] matrix in the layout (rows padded to a multiple of the tile). */
export function matrixFloats(rows: number, cols: number, tile: number): number {
  return (tile > 0 ? Math.ceil(rows / tile) * tile : rows) * cols;
}

/**
 * The decode layout of a config.
 *
 * @param c the model's shape
 * @param tile rows per tile (0: row-major matrices)
 * @throws {RangeError} for a tile that is not 0 or a multiple of 4
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { decodeLayout } from "./decode_layout.ts";
 *
 * const lay = decodeLayout(modelConfig({ dim: 64, n_layers: 2, vocab_size: 512 }));
 * assert.equal(lay.wqkv, 64); // right after rms_att [64] in each layer block
 * ```
 */
export function decodeLayout(c: ModelConfig, tile = 0): DecodeLayout {
  if (!(Number.isInteger(tile) && tile >= 0 && tile % 4 === 0)) {
    throw new RangeError(`Cannot lay out parameters: tile ${tile} is not a multiple of 4`);
  }
  const C = c.dim, H = c.hidden_dim, V = c.vocab_size, KV = kvDim(c);
  const m = (rows: number, cols: number) => _round(matrixFloats(rows, cols, tile));
  const emb = 0;
  const layer0 = m(V, C);
  const rmsAtt = 0;
  const wqkv = _round(C);
  const wo = wqkv + m(C + 2 * KV, C);
  const rmsFfn = wo + m(C, C);
  const w13 = rmsFfn + _round(C);
  const w2 = w13 + m(2 * H, C);
  const layerStride = w2 + m(C, H);
  const rmsFinal = layer0 + c.n_layers * layerStride;
  const wcls = c.shared_classifier ? emb : rmsFinal + _round(C);
  const size = c.shared_classifier ? rmsFinal + _round(C) : wcls + m(V, C);
  return {
    tile,
    emb,
    layer0,
    layerStride,
    rmsAtt,
    wqkv,
    wo,
    rmsFfn,
    w13,
    w2,
    rmsFinal,
    wcls,
    size,
  };
}

/** Writes `rows` rows of `cols` floats (`row(r)` each) at `at`, row-major or tiled. */
function _packMatrix(
  out: Float32Array,
  at: number,
  rows: number,
  cols: number,
  tile: number,
  row: (r: number) => Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const src = row(r);
    if (tile === 0) {
      out.set(src, at + r * cols);
      continue;
    }
    const base = at + Math.floor(r / tile) * tile * cols + (r % tile) * 4;
    for (let k = 0; k < cols / 4; k++) out.set(src.subarray(4 * k, 4 * k + 4), base + k * tile * 4);
  }
}

/**
 * Copies flat parameters (tensor-table layout) into the decode layout.
 *
 * @param c the model's shape
 * @param table its tensor table
 * @param params flat parameters in the table's layout
 * @param tile rows per tile (0: row-major matrices); the dim and hidden_dim must be multiples of
 *   4 when tiled
 * @returns the packed floats ({@link decodeLayout}'s size)
 */
export function packDecodeParams(
  c: ModelConfig,
  table: TensorTable,
  params: Float32Array,
  tile = 0,
): Float32Array<ArrayBuffer> {
  const lay = decodeLayout(c, tile), out = new Float32Array(lay.size);
  const C = c.dim, H = c.hidden_dim, V = c.vocab_size, KV = kvDim(c);
  if (tile > 0 && (C % 4 !== 0 || H % 4 !== 0)) {
    throw new RangeError(
      `Cannot tile parameters: dim ${C} and hidden_dim ${H} must be multiples of 4`,
    );
  }
  const src = (name: TensorName, layer = 0) => {
    const e = table.byName.get(name)!;
    const o = e.offset + layer * e.layerStride;
    return params.subarray(o, o + e.layerNumel);
  };
  const rowsOf = (m: Float32Array, cols: number) => (r: number) =>
    m.subarray(r * cols, (r + 1) * cols);
  _packMatrix(out, lay.emb, V, C, tile, rowsOf(src("tok_embeddings"), C));
  for (let l = 0; l < c.n_layers; l++) {
    const b = lay.layer0 + l * lay.layerStride;
    out.set(src("rms_att", l), b + lay.rmsAtt);
    const q = rowsOf(src("wq", l), C), k = rowsOf(src("wk", l), C), v = rowsOf(src("wv", l), C);
    _packMatrix(
      out,
      b + lay.wqkv,
      C + 2 * KV,
      C,
      tile,
      (r) => r < C ? q(r) : r < C + KV ? k(r - C) : v(r - C - KV),
    );
    _packMatrix(out, b + lay.wo, C, C, tile, rowsOf(src("wo", l), C));
    out.set(src("rms_ffn", l), b + lay.rmsFfn);
    const w1 = rowsOf(src("w1", l), C), w3 = rowsOf(src("w3", l), C);
    _packMatrix(out, b + lay.w13, 2 * H, C, tile, (r) => r % 2 === 0 ? w1(r / 2) : w3((r - 1) / 2));
    _packMatrix(out, b + lay.w2, C, H, tile, rowsOf(src("w2", l), H));
  }
  out.set(src("rms_final"), lay.rmsFinal);
  if (!c.shared_classifier) _packMatrix(out, lay.wcls, V, C, tile, rowsOf(src("wcls"), C));
  return out;
}

/** The weight offsets of {@link TokenDecodeParams} (floats), and the tile they assume. */
export type TokenLayoutParams = Pick<
  TokenDecodeParams,
  | "emb"
  | "layer0"
  | "layer_stride"
  | "tile"
  | "rms_att"
  | "wqkv"
  | "wo"
  | "rms_ffn"
  | "w13"
  | "w2"
  | "rms_final"
  | "wcls"
>;

/**
 * The `token_decode*` kernels' weight offsets for a layout built with `tile` ({@link
 * decodeLayout}).
 *
 * @param lay the layout
 * @param tile the rows per tile it was built with (0: row-major)
 */
export function tokenLayoutParams(lay: DecodeLayout, tile: number): TokenLayoutParams {
  return {
    emb: lay.emb,
    layer0: lay.layer0,
    layer_stride: lay.layerStride,
    tile,
    rms_att: lay.rmsAtt,
    wqkv: lay.wqkv,
    wo: lay.wo,
    rms_ffn: lay.rmsFfn,
    w13: lay.w13,
    w2: lay.w2,
    rms_final: lay.rmsFinal,
    wcls: lay.wcls,
  };
}
