/**
 * llama2.c checkpoint files (`.bin`), both layouts that run.c and export.py know:
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
 *
 * Parameters are read into (and written from) the flat layout of {@link tensorTable}, where
 * each layer's slice is padded to 64 floats.
 *
 * @example
 * ```ts
 * const ckpt = await readLlama2cFile("stories260K.bin");
 * ckpt.config.dim; // 64
 * await writeLlama2cFile("copy.bin", encodeLlama2cV1(ckpt.config, ckpt.params));
 * ```
 *
 * @module
 */
import { headSize, type ModelConfig, modelConfig } from "../model/config.ts";
import { type TensorName, type TensorTable, tensorTable } from "../model/tensors.ts";
import { writeFileAtomic } from "./atomic.ts";
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
 * const { config, params } = readLlama2c(await Deno.readFile("stories260K.bin"));
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
 * await writeLlama2cFile("out/model.bin", encodeLlama2cV0(config, params));
 * ```
 */
export async function writeLlama2cFile(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
}
