/**
 * The tensor table: every parameter's name, shape and place in the one flat buffer that
 * `params`, `grads`, `adam_m` and `adam_v` share. The entries are in llama2.c's export order
 * (what io/ writes, by name, and the order init.ts counts elements in); every tensor and every
 * layer's slice starts on a 256-byte boundary so one layer of one tensor can be bound on its own.
 *
 * The flat buffer stores them in that order too, with two groups interleaved per layer so that
 * one matmul computes each group (the model's fused QKV and W1|W3 matmuls):
 *
 * ```
 * tok_embeddings | rms_att[0..L) | wq[0] wk[0] wv[0] | wq[1] wk[1] wv[1] | ... | wo[0..L)
 *   | rms_ffn[0..L) | w1[0] w3[0] | w1[1] w3[1] | ... | w2[0..L) | rms_final | wcls
 * ```
 *
 * So wq, wk and wv share one `layerStride` (the three slices, each rounded up to 64 floats), as
 * do w1 and w3; the other tensors' layers are stacked. When no padding falls between a group's
 * members (C·C and KV·C multiples of 64 for wq|wk|wv, H·C for w1|w3: every llama2.c model), one
 * layer's group is one row-major matrix, `[C + 2KV, C]` and `[2H, C]`: {@link fusedRange}. Else
 * {@link TensorTable.fused} says so and the model runs one matmul per weight.
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
  /**
   * Elements from one layer's slice to the next: layerNumel rounded up to 64, or for a member
   * of a {@link FusedName} group the group's rounded slices together.
   */
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

/**
 * Per-layer weights stored side by side so that one matmul computes them together: `wqkv` is
 * wq, wk, wv (`[C + 2KV, C]`), `w13` is w1, w3 (`[2H, C]`).
 */
export type FusedName = "wqkv" | "w13";

/** The members of each {@link FusedName}, in storage order. */
export const FUSED_GROUPS: Readonly<Record<FusedName, readonly TensorName[]>> = {
  wqkv: ["wq", "wk", "wv"],
  w13: ["w1", "w3"],
};

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
  /** Whether each group's members are adjacent (no padding between them): see {@link fusedRange}. */
  fused: Record<FusedName, boolean>;
}

const _round = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

/** Storage order: each inner list is stored interleaved per layer (one slot of the buffer). */
const _SLOTS: TensorName[][] = [
  ["tok_embeddings"],
  ["rms_att"],
  FUSED_GROUPS.wqkv as TensorName[],
  ["wo"],
  ["rms_ffn"],
  FUSED_GROUPS.w13 as TensorName[],
  ["w2"],
  ["rms_final"],
  ["wcls"],
];

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
  const entries: TensorEntry[] = spec.map(([name, shape, layers, decay, init]) => {
    const layerNumel = shape.reduce((a, b) => a * b, 1);
    return { name, shape, layers, layerNumel, layerStride: 0, offset: 0, numel: 0, decay, init };
  });
  const byName = new Map(entries.map((e) => [e.name, e]));
  let offset = 0, numParams = 0;
  for (const slot of _SLOTS) {
    const members = slot.map((n) => byName.get(n)).filter((e) => e !== undefined);
    const stride = members.reduce((a, e) => a + _round(e.layerNumel), 0);
    let at = offset;
    for (const e of members) {
      e.offset = at;
      e.layerStride = stride;
      e.numel = e.layers * e.layerNumel;
      at += _round(e.layerNumel);
      numParams += e.numel;
    }
    offset += members.length > 0 ? members[0].layers * stride : 0;
  }
  const adjacent = (g: FusedName) =>
    FUSED_GROUPS[g].slice(0, -1).every((n) => byName.get(n)!.layerNumel % ALIGN_FLOATS === 0);
  const fused = { wqkv: adjacent("wqkv"), w13: adjacent("w13") };
  return { entries, byName, size: offset, numParams, fused };
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

/**
 * Byte range of one layer's group of adjacent weights (wq|wk|wv or w1|w3), for binding as one
 * row-major `[C + 2KV, C]` or `[2H, C]` matrix.
 *
 * @throws {RangeError} when the group's members are not adjacent in this table
 *   ({@link TensorTable.fused}) or the layer is out of range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { fusedRange, tensorRange, tensorTable } from "./tensors.ts";
 *
 * const t = tensorTable(modelConfig()); // 288/6/6/32000
 * const qkv = fusedRange(t, "wqkv", 2);
 * assert.equal(qkv.offset, tensorRange(t, "wq", 2).offset);
 * assert.equal(qkv.size, 3 * 288 * 288 * 4);
 * ```
 */
export function fusedRange(
  table: TensorTable,
  name: FusedName,
  layer = 0,
): { offset: number; size: number } {
  if (!table.fused[name]) {
    throw new RangeError(`Cannot bind ${name}: its weights are not adjacent in this tensor table`);
  }
  const members = FUSED_GROUPS[name];
  const first = tensorRange(table, members[0], layer);
  const size = members.reduce((a, n) => a + table.byName.get(n)!.layerNumel * 4, 0);
  return { offset: first.offset, size };
}

/** A run of the flat buffer whose tensors share one weight-decay flag (see {@link decaySpans}). */
export interface DecaySpan {
  /** Element offset (a multiple of 64). */
  offset: number;
  /** Elements (a multiple of 64), padding included. */
  size: number;
  /** Whether AdamW's weight decay applies. */
  decay: boolean;
}

/**
 * The flat buffer cut into spans of equal weight decay, in storage order, padding included (so
 * together they cover it exactly), each at most `maxFloats` long: what an optimizer updates one
 * dispatch per span.
 *
 * @param table the layout
 * @param maxFloats longest span (rounded down to a multiple of 64; at least 64)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 * import { decaySpans, tensorTable } from "./tensors.ts";
 *
 * const t = tensorTable(modelConfig());
 * assert.deepEqual(decaySpans(t).map((s) => s.decay), [true, false, true, false, true, false]);
 * ```
 */
export function decaySpans(table: TensorTable, maxFloats = Infinity): DecaySpan[] {
  const max = Math.max(ALIGN_FLOATS, Math.floor(maxFloats / ALIGN_FLOATS) * ALIGN_FLOATS);
  const runs: DecaySpan[] = [];
  const slots = _SLOTS.map((slot) => slot.map((n) => table.byName.get(n)))
    .filter((m) => m[0] !== undefined) as TensorEntry[][];
  for (const m of slots) {
    const size = m[0].layers * m[0].layerStride, decay = m[0].decay, last = runs.at(-1);
    if (last && last.decay === decay && last.offset + last.size === m[0].offset) last.size += size;
    else runs.push({ offset: m[0].offset, size, decay });
  }
  const out: DecaySpan[] = [];
  for (const r of runs) {
    for (let o = 0; o < r.size; o += max) {
      out.push({ offset: r.offset + o, size: Math.min(max, r.size - o), decay: r.decay });
    }
  }
  return out;
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
