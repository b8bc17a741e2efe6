/**
 * Model export in every format llama2.c's export.py writes: legacy v0 and version 1 (float32,
 * from {@link encodeLlama2cV0} / {@link encodeLlama2cV1}), version 2 (int8 Q8_0, what runq.c
 * reads), and a Hugging Face directory (see `hf.ts`).
 *
 * Version 2 layout (export.py `version2_export`): a 256-byte header — uint32 magic
 * `0x616b3432`, int32 version 2, int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, max_seq_len, uint8 shared_classifier, int32 group_size (at byte 37, unaligned),
 * zeros — then float32 rms_att [L·C], rms_ffn [L·C], rms_final [C]; then for each of
 * tok_embeddings, wq[0..L), wk[..], wv[..], wo[..], w1[..], w2[..], w3[..] and (untied) wcls:
 * its int8 values, immediately followed by its float32 group scales. Q8_0 is symmetric: per
 * group of `group_size` consecutive values, `scale = max|w| / 127`, `q = round(w / scale)`
 * (round half to even, as torch.round), `w ≈ q · scale`. The group size is 64, halved until it
 * divides dim.
 *
 * @module
 */
import { type ModelConfig, modelConfig } from "../model/config.ts";
import { type TensorName, tensorTable } from "../model/tensors.ts";
import { encodeLlama2cV0, encodeLlama2cV1, LLAMA2C_MAGIC, LLAMA2C_V1_HEADER } from "./llama2c.ts";

/** Output formats of `export`. */
export type ExportFormat = "v0" | "v1" | "v2" | "hf";

const _NORMS: TensorName[] = ["rms_att", "rms_ffn", "rms_final"];
const _QUANTIZED: TensorName[] = ["tok_embeddings", "wq", "wk", "wv", "wo", "w1", "w2", "w3"];

/** export.py's group size: 64, halved until it divides dim. */
export function q80GroupSize(dim: number, start = 64): number {
  let gs = start;
  while (dim % gs !== 0) gs = Math.floor(gs / 2);
  return gs;
}

/** Rounds to the nearest integer, ties to even (torch.round, numpy.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Q8_0 quantization of `w` in groups of `groupSize`, in float32 arithmetic as export.py's
 * `quantize_q80`. A group of zeros gets scale 0 and values 0.
 *
 * @returns int8 values, per-group scales, and the largest |dequantized - w|
 * @throws {RangeError} when the length is not a multiple of the group size
 */
export function quantizeQ80(
  w: Float32Array,
  groupSize: number,
): { q: Int8Array<ArrayBuffer>; s: Float32Array<ArrayBuffer>; maxErr: number } {
  if (!Number.isInteger(groupSize) || groupSize < 1 || w.length % groupSize !== 0) {
    throw new RangeError(
      `Cannot quantize to Q8_0: ${w.length} values are not a multiple of group size ${groupSize}`,
    );
  }
  const f = Math.fround, groups = w.length / groupSize;
  const q = new Int8Array(w.length), s = new Float32Array(groups);
  let maxErr = 0;
  for (let g = 0; g < groups; g++) {
    const base = g * groupSize;
    let wmax = 0;
    for (let i = 0; i < groupSize; i++) wmax = Math.max(wmax, Math.abs(w[base + i]));
    const scale = f(wmax / 127);
    s[g] = scale;
    if (scale === 0) continue;
    for (let i = 0; i < groupSize; i++) {
      const v = roundHalfEven(f(w[base + i] / scale));
      q[base + i] = v;
      maxErr = Math.max(maxErr, Math.abs(f(v * scale) - w[base + i]));
    }
  }
  return { q, s, maxErr };
}

/**
 * Encodes a version-2 (Q8_0) llama2.c checkpoint, as export.py's `version2_export`.
 *
 * @param params flat params in the {@link tensorTable} layout
 * @returns the file bytes, the group size used, and the largest quantization error
 * @throws {TypeError} when params does not have the table's size
 * @throws {RangeError} when a weight's size is not a multiple of the group size
 * @example
 * ```ts
 * const { bytes, groupSize, maxErr } = encodeLlama2cV2(config, params);
 * ```
 */
export function encodeLlama2cV2(
  config: ModelConfig,
  params: Float32Array,
): { bytes: Uint8Array<ArrayBuffer>; groupSize: number; maxErr: number } {
  const table = tensorTable(config);
  if (!(params instanceof Float32Array) || params.length !== table.size) {
    throw new TypeError(
      `Cannot encode llama2.c v2 checkpoint: params must be a Float32Array of ${table.size} floats`,
    );
  }
  const gs = q80GroupSize(config.dim);
  const weights = [..._QUANTIZED, ...(config.shared_classifier ? [] : ["wcls" as const])];
  let normFloats = 0, qBytes = 0;
  for (const n of _NORMS) normFloats += table.byName.get(n)!.numel;
  for (const n of weights) {
    const e = table.byName.get(n)!;
    if (e.layerNumel % gs !== 0) {
      throw new RangeError(
        `Cannot quantize ${n}: ${e.layerNumel} values are not a multiple of group size ${gs}`,
      );
    }
    qBytes += e.numel + 4 * (e.numel / gs);
  }
  const out = new Uint8Array(LLAMA2C_V1_HEADER + 4 * normFloats + qBytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, LLAMA2C_MAGIC, true);
  dv.setInt32(4, 2, true);
  const h = [
    config.dim,
    config.hidden_dim,
    config.n_layers,
    config.n_heads,
    config.n_kv_heads,
    config.vocab_size,
    config.max_seq_len,
  ];
  h.forEach((v, i) => dv.setInt32(8 + 4 * i, v, true));
  dv.setUint8(36, config.shared_classifier ? 1 : 0);
  dv.setInt32(37, gs, true);
  let at = LLAMA2C_V1_HEADER;
  for (const n of _NORMS) {
    const e = table.byName.get(n)!;
    for (let l = 0; l < e.layers; l++) {
      const off = e.offset + l * e.layerStride;
      for (let i = 0; i < e.layerNumel; i++, at += 4) dv.setFloat32(at, params[off + i], true);
    }
  }
  let maxErr = 0;
  for (const n of weights) {
    const e = table.byName.get(n)!;
    for (let l = 0; l < e.layers; l++) {
      const off = e.offset + l * e.layerStride;
      const { q, s, maxErr: err } = quantizeQ80(params.subarray(off, off + e.layerNumel), gs);
      maxErr = Math.max(maxErr, err);
      out.set(new Uint8Array(q.buffer), at);
      at += q.length;
      for (let g = 0; g < s.length; g++, at += 4) dv.setFloat32(at, s[g], true);
    }
  }
  return { bytes: out, groupSize: gs, maxErr };
}

/**
 * Reads a version-2 (Q8_0) file back, dequantizing every weight (`q · scale`), e.g. to check
 * an export or to evaluate a quantized model.
 *
 * @returns the config, the group size, and dequantized flat params
 * @throws {SyntaxError} for a wrong magic or version, an impossible header, or a size that
 *   does not match the header
 */
export function readLlama2cV2(
  bytes: Uint8Array,
): { config: ModelConfig; groupSize: number; params: Float32Array<ArrayBuffer> } {
  const bad = (what: string): never => {
    throw new SyntaxError(`Cannot read llama2.c v2 checkpoint: ${what}`);
  };
  if (bytes.length < LLAMA2C_V1_HEADER) bad(`file is ${bytes.length} bytes, shorter than 256`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== LLAMA2C_MAGIC) bad("magic is not 0x616b3432 (ak42)");
  if (dv.getInt32(4, true) !== 2) bad(`version is ${dv.getInt32(4, true)}, not 2`);
  const [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len] = Array.from(
    { length: 7 },
    (_, i) => dv.getInt32(8 + 4 * i, true),
  );
  const shared = dv.getUint8(36), gs = dv.getInt32(37, true);
  if (shared > 1) bad(`shared_classifier flag is ${shared}`);
  let config: ModelConfig;
  try {
    config = modelConfig({
      dim,
      hidden_dim,
      n_layers,
      n_heads,
      n_kv_heads,
      vocab_size,
      max_seq_len,
      shared_classifier: shared === 1,
    });
  } catch (e) {
    bad((e as Error).message);
  }
  if (!(gs > 0) || dim % gs !== 0) bad(`group size ${gs} does not divide dim ${dim}`);
  const table = tensorTable(config!);
  const weights = [..._QUANTIZED, ...(shared ? [] : ["wcls" as const])];
  let expected = LLAMA2C_V1_HEADER;
  for (const n of _NORMS) expected += 4 * table.byName.get(n)!.numel;
  for (const n of weights) {
    const e = table.byName.get(n)!;
    if (e.layerNumel % gs !== 0) bad(`${n} size ${e.layerNumel} is not a multiple of ${gs}`);
    expected += e.numel + 4 * (e.numel / gs);
  }
  if (bytes.length !== expected) bad(`expected ${expected} bytes, got ${bytes.length}`);
  const params = new Float32Array(table.size);
  let at = LLAMA2C_V1_HEADER;
  for (const n of _NORMS) {
    const e = table.byName.get(n)!;
    for (let l = 0; l < e.layers; l++) {
      const off = e.offset + l * e.layerStride;
      for (let i = 0; i < e.layerNumel; i++, at += 4) params[off + i] = dv.getFloat32(at, true);
    }
  }
  for (const n of weights) {
    const e = table.byName.get(n)!;
    for (let l = 0; l < e.layers; l++) {
      const off = e.offset + l * e.layerStride, sAt = at + e.layerNumel;
      for (let i = 0; i < e.layerNumel; i++) {
        const scale = dv.getFloat32(sAt + 4 * Math.floor(i / gs), true);
        params[off + i] = Math.fround(dv.getInt8(at + i) * scale);
      }
      at = sAt + 4 * (e.layerNumel / gs);
    }
  }
  return { config: config!, groupSize: gs, params };
}

/**
 * Encodes a model in one of the llama2.c `.bin` formats.
 *
 * @example
 * ```ts
 * await Deno.writeFile("model_q80.bin", encodeLlama2c("v2", config, params));
 * ```
 */
export function encodeLlama2c(
  format: "v0" | "v1" | "v2",
  config: ModelConfig,
  params: Float32Array,
): Uint8Array<ArrayBuffer> {
  if (format === "v0") return encodeLlama2cV0(config, params);
  if (format === "v1") return encodeLlama2cV1(config, params);
  return encodeLlama2cV2(config, params).bytes;
}
