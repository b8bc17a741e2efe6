/**
 * Parameter initialisation as llama2.c's model.py: normal(0, 0.02) for linear and embedding
 * weights, normal(0, 0.02/sqrt(2*n_layers)) for wo and w3, ones for RMSNorm weights. The numbers
 * come from {@link normalAt}: real element j (counting every parameter in export order, without
 * padding) is `normalAt(seed, j) * std`, which tools/ reproduce in PyTorch.
 *
 * @module
 */
import { normalAt } from "../util/rng.ts";
import type { TensorTable } from "./tensors.ts";

/**
 * A flat parameter array (padding zero) for `table`, seeded and reproducible.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { initParams } from "./init.ts";
 * import { tensorTable } from "./tensors.ts";
 *
 * const table = tensorTable(modelConfig({ dim: 64, n_layers: 2, n_heads: 4 }));
 * const params = initParams(table, 1337);
 * assert.deepEqual(params, initParams(table, 1337)); // the same seed, the same weights
 * ```
 */
export function initParams(table: TensorTable, seed: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(table.size);
  let j = 0;
  for (const e of table.entries) {
    for (let l = 0; l < e.layers; l++) {
      const base = e.offset + l * e.layerStride;
      if (e.init.kind === "ones") {
        out.fill(1, base, base + e.layerNumel);
        j += e.layerNumel;
      } else {
        const std = e.init.std;
        for (let i = 0; i < e.layerNumel; i++) out[base + i] = normalAt(seed, j++) * std;
      }
    }
  }
  return out;
}
