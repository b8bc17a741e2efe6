import assert from "node:assert/strict";
import { kvDim, modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { decodeLayout, matrixFloats, packDecodeParams } from "../../src/model/decode_layout.ts";

/** Element (r, k) of the [rows, cols] matrix at float `at`, row-major (T = 0) or tiled. */
function at(lay: { tile: number }, base: number, cols: number, r: number, k: number): number {
  const T = lay.tile;
  if (T === 0) return base + r * cols + k;
  return base + ((Math.floor(r / T) * (cols / 4) + Math.floor(k / 4)) * T + (r % T)) * 4 + (k % 4);
}

Deno.test("packDecodeParams puts every weight where decodeLayout says (wqkv stacked, w1/w3 rows interleaved), row-major and in tiles of 8 and 32 rows", () => {
  for (const shared of [true, false]) {
    const cfg = modelConfig({
      dim: 24,
      n_layers: 2,
      n_heads: 6,
      n_kv_heads: 3,
      vocab_size: 37,
      hidden_dim: 36,
      max_seq_len: 8,
      shared_classifier: shared,
    });
    const table = tensorTable(cfg), params = initParams(table, 7);
    const C = cfg.dim, H = cfg.hidden_dim, V = cfg.vocab_size, KV = kvDim(cfg);
    const w = (name: Parameters<typeof table.byName.get>[0], l: number, i: number) => {
      const e = table.byName.get(name)!;
      return params[e.offset + l * e.layerStride + i];
    };
    for (const tile of [0, 8, 32]) {
      const lay = decodeLayout(cfg, tile), out = packDecodeParams(cfg, table, params, tile);
      assert.equal(out.length, lay.size);
      for (const off of [lay.layer0, lay.layerStride, lay.wqkv, lay.wo, lay.w13, lay.w2]) {
        assert.equal(off % 64, 0, `offset ${off} is not 256-byte aligned`);
      }
      for (let r = 0; r < V; r++) {
        for (let k = 0; k < C; k++) {
          assert.equal(out[at(lay, lay.emb, C, r, k)], w("tok_embeddings", 0, r * C + k));
          if (!shared) assert.equal(out[at(lay, lay.wcls, C, r, k)], w("wcls", 0, r * C + k));
        }
      }
      for (let l = 0; l < cfg.n_layers; l++) {
        const b = lay.layer0 + l * lay.layerStride;
        for (let i = 0; i < C; i++) {
          assert.equal(out[b + lay.rmsAtt + i], w("rms_att", l, i));
          assert.equal(out[b + lay.rmsFfn + i], w("rms_ffn", l, i));
        }
        for (let r = 0; r < C + 2 * KV; r++) {
          for (let k = 0; k < C; k++) {
            const want = r < C
              ? w("wq", l, r * C + k)
              : r < C + KV
              ? w("wk", l, (r - C) * C + k)
              : w("wv", l, (r - C - KV) * C + k);
            assert.equal(out[at(lay, b + lay.wqkv, C, r, k)], want);
          }
        }
        for (let i = 0; i < H; i++) {
          for (let k = 0; k < C; k++) {
            assert.equal(out[at(lay, b + lay.w13, C, 2 * i, k)], w("w1", l, i * C + k));
            assert.equal(out[at(lay, b + lay.w13, C, 2 * i + 1, k)], w("w3", l, i * C + k));
          }
        }
        for (let r = 0; r < C; r++) {
          for (let k = 0; k < C; k++) {
            assert.equal(out[at(lay, b + lay.wo, C, r, k)], w("wo", l, r * C + k));
          }
          for (let k = 0; k < H; k++) {
            assert.equal(out[at(lay, b + lay.w2, H, r, k)], w("w2", l, r * H + k));
          }
        }
      }
      for (let i = 0; i < C; i++) assert.equal(out[lay.rmsFinal + i], w("rms_final", 0, i));
      // padding rows of a tile are zero
      if (tile > 0) {
        const pad = matrixFloats(V, C, tile) - V * C;
        assert.equal(pad, (Math.ceil(V / tile) * tile - V) * C);
        for (let r = V; r < Math.ceil(V / tile) * tile; r++) {
          for (let k = 0; k < C; k++) assert.equal(out[at(lay, lay.emb, C, r, k)], 0);
        }
      }
    }
  }
  assert.throws(() => decodeLayout(modelConfig(), 6), RangeError);
});
