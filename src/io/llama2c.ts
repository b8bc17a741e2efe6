/**
 * llama2.c checkpoint files (`.bin`), every version export.py writes, read and written here:
 *
 * - **legacy v0** (export.py `legacy_export`, what run.c's `memory_map_weights` maps): 7 int32
 *   `dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len` (a negative
 *   vocab_size means an unshared classifier), then f32 tensors: tok_embeddings [V,C],
 *   rms_att [L,C], wq [L,C,C], wk [L,KV,C], wv [L,KV,C], wo [L,C,C], rms_ffn [L,C], w1 [L,H,C],
 *   w2 [L,C,H], w3 [L,H,C], rms_final [C], freqs_cos [T,HS/2], freqs_sin [T,HS/2], and wcls
 *   [V,C] only when unshared.
 * - **version 1** (export.py `version1_export`): uint32 magic `0x616b3432` ("ak42"), int32
 *   version 1, the same 7 int32 (vocab_size positive), uint8 shared_classifier, zeros to 256
 *   bytes; then f32: rms_att, rms_ffn, rms_final, tok_embeddings, wq, wk, wv, wo, w1, w2, w3,
 *   and wcls when unshared (no RoPE tables).
 * - **version 2** (export.py `version2_export`, what runq.c reads): a 256-byte header —
 *   uint32 magic `0x616b3432`, int32 version 2, int32 dim, hidden_dim, n_layers, n_heads,
 *   n_kv_heads, vocab_size, max_seq_len, uint8 shared_classifier, int32 group_size (at byte 37,
 *   unaligned), zeros — then float32 rms_att [L·C], rms_ffn [L·C], rms_final [C]; then for each of
 *   tok_embeddings, wq[0..L), wk[..], wv[..], wo[..], w1[..], w2[..], w3[..] and (untied) wcls:
 *   its int8 values, immediately followed by its float32 group scales. Q8_0 is symmetric: per
 *   group of `group_size` consecutive values, `scale = max|w| / 127`, `q = round(w / scale)`
 *   (round half to even, as torch.round), `w ≈ q · scale`. The group size is 64, halved until it
 *   divides dim.
 *
 * Parameters are read into (and written from) the flat layout of {@link tensorTable}, where
 * each layer's slice is padded to 64 floats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeLlama2cV1, readLlama2cFile, writeLlama2cFile } from "./llama2c.ts";
 *
 * const ckpt = await readLlama2cFile("stories260K.bin");
 * assert.equal(ckpt.config.dim, 64);
 * await writeLlama2cFile("copy.bin", encodeLlama2cV1(ckpt.config, ckpt.params));
 * ```
 *
 * @module
 */
import { headSize, type ModelConfig, modelConfig } from "../model/config.ts";
import { type TensorName, type TensorTable, tensorTable } from "../model/tensors.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { ropeFreqs } from "../model/rope_freqs.ts";

/** A loaded llama2.c checkpoint. */
export interface Llama2cCheckpoint {
  /** The model's shape (multiple_of 32 and norm_eps 1e-5: the file does not store them). */
  config: ModelConfig;
  /** Parameters in the flat {@link tensorTable} layout (padding zero). */
  params: Float32Array<ArrayBuffer>;
  /** The file's layout: 0 legacy, 1 export.py version 1. */
  version: 0 | 1;
}

/** uint32 magic of versioned files: "ak42". */
export const LLAMA2C_MAGIC = 0x616b3432;
/** Bytes of the version-1 header. */
export const LLAMA2C_V1_HEADER = 256;
const V0_HEADER = 28;

const V0_ORDER: TensorName[] = [
  "tok_embeddings",
  "rms_att",
  "wq",
  "wk",
  "wv",
  "wo",
  "rms_ffn",
  "w1",
  "w2",
  "w3",
  "rms_final",
];
const V1_ORDER: TensorName[] = [
  "rms_att",
  "rms_ffn",
  "rms_final",
  "tok_embeddings",
  "wq",
  "wk",
  "wv",
  "wo",
  "w1",
  "w2",
  "w3",
];

function _fail(what: string): never {
  throw new SyntaxError(`Cannot read llama2.c checkpoint: ${what}`);
}

interface _Header {
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
  shared: boolean;
}

function _header(dv: DataView, at: number): Omit<_Header, "shared"> {
  const v = (i: number) => dv.getInt32(at + 4 * i, true);
  return {
    dim: v(0),
    hidden_dim: v(1),
    n_layers: v(2),
    n_heads: v(3),
    n_kv_heads: v(4),
    vocab_size: v(5),
    seq_len: v(6),
  };
}

function _describe(h: _Header, version: 0 | 1): string {
  return `dim ${h.dim}, hidden_dim ${h.hidden_dim}, n_layers ${h.n_layers}, ` +
    `n_heads ${h.n_heads}, n_kv_heads ${h.n_kv_heads}, vocab_size ${h.vocab_size}` +
    `${h.shared ? "" : " (unshared classifier)"}, seq_len ${h.seq_len} (version ${version})`;
}

function _config(h: _Header, version: 0 | 1): ModelConfig {
  for (const k of ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "seq_len"] as const) {
    if (!(h[k] > 0)) _fail(`header field ${k} is ${h[k]}, not positive (${_describe(h, version)})`);
  }
  try {
    return modelConfig({
      dim: h.dim,
      hidden_dim: h.hidden_dim,
      n_layers: h.n_layers,
      n_heads: h.n_heads,
      n_kv_heads: h.n_kv_heads,
      vocab_size: h.vocab_size,
      max_seq_len: h.seq_len,
      multiple_of: 32,
      norm_eps: 1e-5,
      shared_classifier: h.shared,
    });
  } catch (e) {
    if (e instanceof RangeError) _fail(`invalid header (${e.message})`);
    throw e;
  }
}

/** f32 count of the tensors (without RoPE tables) in a file for `table`. */
function _weightFloats(table: TensorTable): number {
  return table.numParams;
}

/** f32 count of legacy v0's RoPE tables (freqs_cos and freqs_sin, T x HS/2 each). */
function _freqFloats(cfg: ModelConfig): number {
  return cfg.max_seq_len * headSize(cfg);
}

/** Copies `names` (each stacked over its layers, contiguous) from `src` at `at` into `params`. */
function _unpack(
  table: TensorTable,
  names: TensorName[],
  src: Float32Array,
  at: number,
  params: Float32Array,
): number {
  for (const name of names) {
    const e = table.byName.get(name)!;
    for (let l = 0; l < e.layers; l++) {
      params.set(src.subarray(at, at + e.layerNumel), e.offset + l * e.layerStride);
      at += e.layerNumel;
    }
  }
  return at;
}

function _pack(
  table: TensorTable,
  names: TensorName[],
  params: Float32Array,
  dst: Float32Array,
  at: number,
): number {
  for (const name of names) {
    const e = table.byName.get(name)!;
    for (let l = 0; l < e.layers; l++) {
      const base = e.offset + l * e.layerStride;
      dst.set(params.subarray(base, base + e.layerNumel), at);
      at += e.layerNumel;
    }
  }
  return at;
}

/**
 * Parses a llama2.c checkpoint (legacy v0 or version 1, told apart by the magic).
 *
 * @param bytes the whole file
 * @returns config, flat params and the file's version
 * @throws {SyntaxError} for a short file, an unsupported version (e.g. 2, int8), an impossible
 *   header, or a size that does not match the header (the message gives both sizes)
 * @example
 * ```ts
 * import { readLlama2c } from "./llama2c.ts";
 *
 * const { config, params } = readLlama2c(await Deno.readFile("stories260K.bin"));
 * console.log(config.dim, params.length);
 * ```
 */
export function readLlama2c(bytes: Uint8Array): Llama2cCheckpoint {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot read llama2.c checkpoint: expected a Uint8Array");
  }
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
  if (bytes.length < V0_HEADER) {
    _fail(`file is ${bytes.length} bytes, shorter than the ${V0_HEADER}-byte header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let version: 0 | 1, h: _Header, dataStart: number;
  if (dv.getUint32(0, true) === LLAMA2C_MAGIC) {
    const v = dv.getInt32(4, true);
    if (v !== 1) {
      _fail(`version ${v} is not supported (only legacy v0 and version 1, float32)`);
    }
    if (bytes.length < LLAMA2C_V1_HEADER) {
      _fail(`file is ${bytes.length} bytes, shorter than the ${LLAMA2C_V1_HEADER}-byte header`);
    }
    const flag = dv.getUint8(36);
    if (flag > 1) _fail(`shared_classifier flag is ${flag}, not 0 or 1`);
    version = 1;
    h = { ..._header(dv, 8), shared: flag === 1 };
    if (!(h.vocab_size > 0)) _fail(`vocab_size ${h.vocab_size} is not positive`);
    dataStart = LLAMA2C_V1_HEADER;
  } else {
    version = 0;
    const raw = _header(dv, 0);
    if (raw.vocab_size === 0) _fail("vocab_size is 0");
    h = { ...raw, vocab_size: Math.abs(raw.vocab_size), shared: raw.vocab_size > 0 };
    dataStart = V0_HEADER;
  }
  const config = _config(h, version);
  const table = tensorTable(config);
  const floats = _weightFloats(table) + (version === 0 ? _freqFloats(config) : 0);
  const expected = dataStart + 4 * floats;
  if (bytes.length !== expected) {
    _fail(`expected ${expected} bytes for ${_describe(h, version)}, got ${bytes.length}`);
  }
  const src = new Float32Array(bytes.buffer, bytes.byteOffset + dataStart, floats);
  const params = new Float32Array(table.size);
  if (version === 0) {
    let at = _unpack(table, V0_ORDER, src, 0, params);
    at += _freqFloats(config);
    if (!config.shared_classifier) _unpack(table, ["wcls"], src, at, params);
  } else {
    _unpack(
      table,
      [...V1_ORDER, ...(config.shared_classifier ? [] : ["wcls" as const])],
      src,
      0,
      params,
    );
  }
  return { config, params, version };
}

/**
 * Reads a llama2.c checkpoint file.
 *
 * @param path the `.bin` file
 * @throws {SyntaxError} for a malformed file (the message names the file)
 * @example
 * ```ts
 * import { readLlama2cFile } from "./llama2c.ts";
 *
 * const ckpt = await readLlama2cFile("out/model.bin");
 * ```
 */
export async function readLlama2cFile(path: string): Promise<Llama2cCheckpoint> {
  const bytes = await Deno.readFile(path);
  try {
    return readLlama2c(bytes);
  } catch (e) {
    if (e instanceof SyntaxError) throw new SyntaxError(`${e.message} (in ${path})`);
    throw e;
  }
}

function _checkParams(config: ModelConfig, params: Float32Array, what: string): TensorTable {
  const table = tensorTable(config);
  if (!(params instanceof Float32Array) || params.length !== table.size) {
    throw new TypeError(
      `Cannot encode ${what}: params must be a Float32Array of ${table.size} floats ` +
        `(the tensor table's size), got ${
          params instanceof Float32Array ? params.length : typeof params
        }`,
    );
  }
  return table;
}

function _int32Header(dv: DataView, at: number, c: ModelConfig, vocab: number): void {
  const vals = [c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, vocab, c.max_seq_len];
  vals.forEach((v, i) => dv.setInt32(at + 4 * i, v, true));
}

/**
 * Encodes a legacy (v0) llama2.c checkpoint, as export.py's `legacy_export` (and what run.c
 * reads): RoPE tables computed like model.py; negative vocab_size when the classifier is
 * unshared.
 *
 * @param config the model's shape (`shared_classifier` decides whether wcls is written)
 * @param params flat params in the {@link tensorTable} layout
 * @throws {TypeError} when `params` does not have the table's size
 * @example
 * ```ts
 * import { encodeLlama2cV0, readLlama2cFile, writeLlama2cFile } from "./llama2c.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * await writeLlama2cFile("model.bin", encodeLlama2cV0(config, params));
 * ```
 */
export function encodeLlama2cV0(
  config: ModelConfig,
  params: Float32Array,
): Uint8Array<ArrayBuffer> {
  const table = _checkParams(config, params, "llama2.c v0 checkpoint");
  const floats = _weightFloats(table) + _freqFloats(config);
  const out = new Uint8Array(V0_HEADER + 4 * floats);
  const dv = new DataView(out.buffer);
  _int32Header(dv, 0, config, config.shared_classifier ? config.vocab_size : -config.vocab_size);
  const dst = new Float32Array(out.buffer, V0_HEADER, floats);
  let at = _pack(table, V0_ORDER, params, dst, 0);
  const { cos, sin } = ropeFreqs(headSize(config), config.max_seq_len);
  dst.set(cos, at);
  dst.set(sin, at + cos.length);
  at += cos.length + sin.length;
  if (!config.shared_classifier) _pack(table, ["wcls"], params, dst, at);
  return out;
}

/**
 * Encodes a version-1 llama2.c checkpoint, as export.py's `version1_export`.
 *
 * @param config the model's shape (`shared_classifier` is the header flag)
 * @param params flat params in the {@link tensorTable} layout
 * @throws {TypeError} when `params` does not have the table's size
 * @example
 * ```ts
 * import { encodeLlama2cV1, readLlama2cFile, writeLlama2cFile } from "./llama2c.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * await writeLlama2cFile("model.bin", encodeLlama2cV1(config, params));
 * ```
 */
export function encodeLlama2cV1(
  config: ModelConfig,
  params: Float32Array,
): Uint8Array<ArrayBuffer> {
  const table = _checkParams(config, params, "llama2.c v1 checkpoint");
  const floats = _weightFloats(table);
  const out = new Uint8Array(LLAMA2C_V1_HEADER + 4 * floats);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, LLAMA2C_MAGIC, true);
  dv.setInt32(4, 1, true);
  _int32Header(dv, 8, config, config.vocab_size);
  dv.setUint8(36, config.shared_classifier ? 1 : 0);
  const dst = new Float32Array(out.buffer, LLAMA2C_V1_HEADER, floats);
  const names = [...V1_ORDER, ...(config.shared_classifier ? [] : ["wcls" as const])];
  _pack(table, names, params, dst, 0);
  return out;
}

/**
 * Writes checkpoint bytes atomically (temp file, fsync, rename).
 *
 * @param path destination `.bin`
 * @param bytes from {@link encodeLlama2cV0} or {@link encodeLlama2cV1}
 * @example
 * ```ts
 * import { encodeLlama2cV0, readLlama2cFile, writeLlama2cFile } from "./llama2c.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * await writeLlama2cFile("out/model.bin", encodeLlama2cV0(config, params));
 * ```
 */
export async function writeLlama2cFile(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
}

// ---------------------------------------------------------------------------------------------
// Version 2: int8 Q8_0 groups (export.py `version2_export`, runq.c)

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
 * import assert from "node:assert/strict";
 * import { modelConfig } from "../model/config.ts";
 * import { initParams } from "../model/init.ts";
 * import { tensorTable } from "../model/tensors.ts";
 * import { encodeLlama2cV2, readLlama2cV2 } from "./llama2c.ts";
 *
 * const config = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, vocab_size: 512 });
 * const params = initParams(tensorTable(config), 1337);
 * const { bytes, groupSize, maxErr } = encodeLlama2cV2(config, params);
 * assert.equal(groupSize, 64);
 * assert.ok(maxErr < 1e-3);
 * assert.equal(readLlama2cV2(bytes).groupSize, 64);
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
 * import { encodeLlama2c, readLlama2cFile } from "./llama2c.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
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
