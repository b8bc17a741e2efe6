/**
 * The tensor table: every parameter's name, shape and place in the one flat buffer that
 * `params`, `grads`, `adam_m` and `adam_v` share. Order is llama2.c's export order; per-layer
 * tensors are stacked over layers, each layer's slice starting on a 256-byte boundary so one
 * layer can be bound on its own.
 *
 * @module
 */
import { kvDim, type ModelConfig } from "./config.ts";

/** Floats per 256 bytes: every tensor and layer slice starts on this boundary. */
export const ALIGN_FLOATS = 64;

/** llama2.c parameter names, in export order. */
export type TensorName =
  | "tok_embeddings"
  | "rms_att"
  | "wq"
  | "wk"
  | "wv"
  | "wo"
  | "rms_ffn"
  | "w1"
  | "w2"
  | "w3"
  | "rms_final"
  | "wcls";

/** One parameter tensor in the flat buffer. */
export interface TensorEntry {
  /** llama2.c name. */
  name: TensorName;
  /** Shape of one layer's slice (the whole tensor when not per-layer), e.g. [C, C] for wq. */
  shape: number[];
  /** Number of layers stacked (1 for tok_embeddings, rms_final, wcls). */
  layers: number;
  /** Elements in one layer's slice. */
  layerNumel: number;
  /** Elements from one layer's slice to the next (layerNumel rounded up to 64). */
  layerStride: number;
  /** Element offset of layer 0 in the flat buffer (a multiple of 64). */
  offset: number;
  /** Real elements over all layers (layers * layerNumel), without padding. */
  numel: number;
  /** AdamW weight decay applies (2-D weights, as train.py's configure_optimizers). */
  decay: boolean;
  /** Init: `normal` with std, or `ones` (norm weights). */
  init: { kind: "normal"; std: number } | { kind: "ones" };
}

/** The table and the flat buffer's size. */
export interface TensorTable {
  /** Entries in export order. */
  entries: TensorEntry[];
  /** Lookup by name. */
  byName: Map<TensorName, TensorEntry>;
  /** Elements in the flat buffer (including alignment padding). */
  size: number;
  /** Real parameter count (what train.py prints). */
  numParams: number;
}

const _round = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

/**
 * Builds the tensor table for a config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { tensorTable } from "./tensors.ts";
 *
 * const t = tensorTable(modelConfig());
 * assert.equal(t.numParams, 15191712); // the 288/6/6/32000 model
 * ```
 */
export function tensorTable(cfg: ModelConfig): TensorTable {
  const C = cfg.dim, L = cfg.n_layers, H = cfg.hidden_dim, V = cfg.vocab_size, KV = kvDim(cfg);
  const std = 0.02, projStd = 0.02 / Math.sqrt(2 * L);
  const spec: [TensorName, number[], number, boolean, TensorEntry["init"]][] = [
    ["tok_embeddings", [V, C], 1, true, { kind: "normal", std }],
    ["rms_att", [C], L, false, { kind: "ones" }],
    ["wq", [C, C], L, true, { kind: "normal", std }],
    ["wk", [KV, C], L, true, { kind: "normal", std }],
    ["wv", [KV, C], L, true, { kind: "normal", std }],
    ["wo", [C, C], L, true, { kind: "normal", std: projStd }],
    ["rms_ffn", [C], L, false, { kind: "ones" }],
    ["w1", [H, C], L, true, { kind: "normal", std }],
    ["w2", [C, H], L, true, { kind: "normal", std }],
    ["w3", [H, C], L, true, { kind: "normal", std: projStd }],
    ["rms_final", [C], 1, false, { kind: "ones" }],
  ];
  if (!cfg.shared_classifier) spec.push(["wcls", [V, C], 1, true, { kind: "normal", std }]);
  const entries: TensorEntry[] = [];
  let offset = 0, numParams = 0;
  for (const [name, shape, layers, decay, init] of spec) {
    const layerNumel = shape.reduce((a, b) => a * b, 1);
    const layerStride = _round(layerNumel);
    entries.push({
      name,
      shape,
      layers,
      layerNumel,
      layerStride,
      offset,
      numel: layers * layerNumel,
      decay,
      init,
    });
    offset += layers * layerStride;
    numParams += layers * layerNumel;
  }
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), size: offset, numParams };
}

/**
 * Byte range of one layer's slice of a tensor in a flat f32 buffer, for binding.
 *
 * @throws {RangeError} when the tensor is missing or the layer is out of range
 */
export function tensorRange(
  table: TensorTable,
  name: TensorName,
  layer = 0,
): { offset: number; size: number } {
  const e = table.byName.get(name);
  if (!e) throw new RangeError(`Cannot find tensor ${name} in the tensor table`);
  if (layer < 0 || layer >= e.layers) {
    throw new RangeError(`Cannot find layer ${layer} of ${name}: it has ${e.layers}`);
  }
  return { offset: (e.offset + layer * e.layerStride) * 4, size: e.layerNumel * 4 };
}

/** Where {@link firstNonFinite} found a NaN or infinity. */
export interface NonFinite {
  /** The tensor: `layers.3.wq` for per-layer tensors, else the bare name (`tok_embeddings`). */
  tensor: string;
  /** Index of the element inside that tensor (row-major). */
  index: number;
  /** The value (NaN, Infinity or -Infinity). */
  value: number;
}

/**
 * Finds the first NaN or infinity among the real (not padding) elements of a flat array in the
 * tensor table's layout, in export order.
 *
 * @param table the layout
 * @param flat parameters (or AdamW moments) of `table.size` floats
 * @returns where it is, or `null` when every element is finite
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { firstNonFinite, tensorTable } from "./tensors.ts";
 *
 * const table = tensorTable(modelConfig({ dim: 16, n_layers: 2, n_heads: 2, vocab_size: 32 }));
 * const params = new Float32Array(table.size);
 * assert.equal(firstNonFinite(table, params), null);
 * const wq = table.byName.get("wq")!;
 * params[wq.offset + wq.layerStride + 5] = NaN; // layer 1
 * assert.deepEqual(firstNonFinite(table, params), { tensor: "layers.1.wq", index: 5, value: NaN });
 * ```
 */
export function firstNonFinite(table: TensorTable, flat: Float32Array): NonFinite | null {
  for (const e of table.entries) {
    for (let l = 0; l < e.layers; l++) {
      const start = e.offset + l * e.layerStride, end = start + e.layerNumel;
      for (let i = start; i < end; i++) {
        // x - x is 0 for every finite x and NaN for NaN and both infinities
        if (flat[i] - flat[i] !== 0) {
          const tensor = _perLayer(e.name) ? `layers.${l}.${e.name}` : e.name;
          return { tensor, index: i - start, value: flat[i] };
        }
      }
    }
  }
  return null;
}

function _perLayer(name: TensorName): boolean {
  return name !== "tok_embeddings" && name !== "rms_final" && name !== "wcls";
}
