/**
 * safetensors files: an 8-byte little-endian u64 header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}` padded with spaces
 * to 8 bytes, then the tensors' bytes (offsets relative to the end of the header). Reading
 * validates the whole structure (known dtypes, sizes that match shapes, offsets that tile the
 * data with no holes or overlaps, as the format's specification requires) and returns views
 * into the input, not copies. Host byte order is assumed little-endian (as the format).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors, tensorF32 } from "./safetensors.ts";
 *
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) } });
 * const { tensors } = readSafetensors(bytes);
 * assert.deepEqual(tensorF32(tensors.get("w")!), new Float32Array(4));
 * ```
 *
 * @module
 */
import { writeFileAtomic } from "../util/atomic.ts";

/** Element types of the safetensors format. */
export type SafeDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL"
  | "F8_E4M3"
  | "F8_E5M2";

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<SafeDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** One tensor of a read file: its bytes are a view into the file's bytes. */
export interface SafeTensor {
  /** Element type. */
  dtype: SafeDtype;
  /** Shape (empty for a scalar). */
  shape: number[];
  /** Raw little-endian bytes, `numel * DTYPE_SIZE[dtype]` long. */
  data: Uint8Array;
}

/** A tensor to write: any typed array (or bytes) whose byte length matches dtype and shape. */
export interface SafeTensorInput {
  /** Element type. */
  dtype: SafeDtype;
  /** Shape (empty for a scalar). */
  shape: number[];
  /** Contents, read as raw bytes. */
  data: ArrayBufferView;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in the order of their data offsets. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

/** The format's limit on the JSON header (100 MB). */
const MAX_HEADER = 100_000_000;

function _fail(what: string): never {
  throw new SyntaxError(`Cannot read safetensors: ${what}`);
}

function _numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function _isDtype(s: unknown): s is SafeDtype {
  return typeof s === "string" && Object.hasOwn(DTYPE_SIZE, s);
}

/**
 * Parses safetensors bytes. Tensor data are views into `bytes` (no copy).
 *
 * @param bytes the whole file
 * @returns the tensors (by name) and the metadata
 * @throws {SyntaxError} for a malformed file: short or oversized header, invalid JSON, an
 *   unknown dtype, a size that does not match the shape, offsets that leave holes or overlap,
 *   or data of the wrong total length
 * @example
 * ```ts
 * import { readSafetensors } from "./safetensors.ts";
 *
 * const { tensors, metadata } = readSafetensors(await Deno.readFile("model.safetensors"));
 * console.log([...tensors.keys()], metadata);
 * ```
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot read safetensors: expected a Uint8Array");
  }
  if (bytes.length < 8) _fail(`file is ${bytes.length} bytes, shorter than the 8-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    _fail(`header length ${n} exceeds the ${bytes.length - 8} bytes after it`);
  }
  const headerLen = Number(n);
  if (headerLen > MAX_HEADER) _fail(`header length ${headerLen} exceeds ${MAX_HEADER}`);
  if (headerLen < 2) _fail(`header length ${headerLen} is too short for a JSON object`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch (e) {
    _fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    _fail("header is not a JSON object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number }[] =
    [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        _fail("__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") _fail(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      _fail(`entry ${JSON.stringify(name)} is not an object`);
    }
    const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
    if (!_isDtype(dtype)) _fail(`tensor ${JSON.stringify(name)} has unknown dtype ${dtype}`);
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      _fail(`tensor ${JSON.stringify(name)} has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offs[0] > offs[1]
    ) {
      _fail(`tensor ${JSON.stringify(name)} has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const want = _numel(shape as number[]) * DTYPE_SIZE[dtype];
    if (end - begin !== want) {
      _fail(
        `tensor ${JSON.stringify(name)} (${dtype} ${JSON.stringify(shape)}) needs ${want} bytes, ` +
          `its data_offsets span ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin !== pos) {
      _fail(
        `tensor ${JSON.stringify(e.name)} starts at byte ${e.begin}, expected ${pos} ` +
          `(${e.begin < pos ? "overlap" : "hole"} in the data)`,
      );
    }
    pos = e.end;
  }
  if (pos !== dataLen) _fail(`tensors cover ${pos} data bytes, the file has ${dataLen}`);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    });
  }
  return { tensors, metadata };
}

/**
 * Encodes tensors (and optional string metadata) as safetensors bytes. Tensors are laid out
 * by element size, largest first (then in the given order), so that with the 8-byte aligned
 * header every tensor starts on a multiple of its element size.
 *
 * @param tensors tensors by name
 * @param metadata optional string map stored as `__metadata__`
 * @returns the file's bytes
 * @throws {TypeError} for an unknown dtype, a bad shape, a data length that does not match
 *   the shape, a name `__metadata__`, or a non-string metadata value
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors } from "./safetensors.ts";
 *
 * const bytes = encodeSafetensors(
 *   { tokens: { dtype: "I32", shape: [2, 3], data: new Int32Array(6) } },
 *   { note: "example" },
 * );
 * assert.deepEqual(readSafetensors(bytes).metadata, { note: "example" });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensorInput>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const items = Object.entries(tensors).map(([name, t], i) => {
    if (name === "__metadata__") {
      throw new TypeError("Cannot encode safetensors: __metadata__ is not a tensor name");
    }
    if (!_isDtype(t.dtype)) {
      throw new TypeError(`Cannot encode safetensors: ${name} has unknown dtype ${t.dtype}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(
        `Cannot encode safetensors: ${name} has an invalid shape ${JSON.stringify(t.shape)}`,
      );
    }
    if (!ArrayBuffer.isView(t.data)) {
      throw new TypeError(`Cannot encode safetensors: ${name} data is not a typed array`);
    }
    const want = _numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== want) {
      throw new TypeError(
        `Cannot encode safetensors: ${name} (${t.dtype} ${JSON.stringify(t.shape)}) needs ` +
          `${want} bytes, got ${t.data.byteLength}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    return { name, dtype: t.dtype, shape: t.shape, bytes, i };
  });
  items.sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || a.i - b.i);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(`Cannot encode safetensors: metadata ${k} is not a string`);
      }
    }
    header.__metadata__ = metadata;
  }
  let pos = 0;
  for (const it of items) {
    header[it.name] = {
      dtype: it.dtype,
      shape: it.shape,
      data_offsets: [pos, pos + it.bytes.length],
    };
    pos += it.bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.length;
  }
  return out;
}

/**
 * Encodes and writes a safetensors file atomically (temp file, fsync, rename).
 *
 * @param path destination
 * @param tensors tensors by name
 * @param metadata optional string metadata
 * @example
 * ```ts
 * import { writeSafetensorsFile } from "./safetensors.ts";
 *
 * const g = new Float32Array([0.5, -1, 2]);
 * await writeSafetensorsFile("grads.safetensors", { g: { dtype: "F32", shape: [3], data: g } });
 * ```
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafeTensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads and parses a safetensors file.
 *
 * @param path the file
 * @throws {SyntaxError} for a malformed file (the message names the file)
 * @example
 * ```ts
 * import { readSafetensorsFile } from "./safetensors.ts";
 *
 * const { tensors } = await readSafetensorsFile("tests/fixtures/model_tiny.safetensors");
 * console.log([...tensors.keys()]);
 * ```
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const bytes = await Deno.readFile(path);
  try {
    return readSafetensors(bytes);
  } catch (e) {
    if (e instanceof SyntaxError) throw new SyntaxError(`${e.message} (in ${path})`);
    throw e;
  }
}

function _f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * A tensor's values as f32. F32 data that are 4-byte aligned come back as a view sharing the
 * file's memory (copy it before mutating if that matters); unaligned F32 data, and F64, F16
 * and BF16 data, are copied (converted).
 *
 * @throws {TypeError} for an integer or boolean dtype
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors, tensorF32 } from "./safetensors.ts";
 *
 * const data = new Float32Array([1.5, -2]);
 * const { tensors } = readSafetensors(
 *   encodeSafetensors({ logits: { dtype: "F32", shape: [2], data } }),
 * );
 * assert.deepEqual(tensorF32(tensors.get("logits")!), data);
 * ```
 */
export function tensorF32(t: SafeTensor): Float32Array<ArrayBuffer> {
  const n = _numel(t.shape), d = t.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  switch (t.dtype) {
    case "F32":
      if (d.byteOffset % 4 === 0 && d.buffer instanceof ArrayBuffer) {
        return new Float32Array(d.buffer, d.byteOffset, n);
      }
      return new Float32Array(d.slice().buffer, 0, n);
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = _f16(dv.getUint16(2 * i, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new TypeError(`Cannot convert tensor to f32: dtype ${t.dtype} is not a float type`);
  }
}

/**
 * A tensor's values as int32 (always a copy): for I32, I16, I8, U16, U8, BOOL, and I64, U32,
 * U64 whose values fit int32 (token ids and targets are stored this way).
 *
 * @throws {TypeError} for a float dtype
 * @throws {RangeError} for a 64-bit or U32 value outside the int32 range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors, tensorI32 } from "./safetensors.ts";
 *
 * const data = new Int32Array([1, 15043, 3186]);
 * const { tensors } = readSafetensors(
 *   encodeSafetensors({ tokens: { dtype: "I32", shape: [3], data } }),
 * );
 * assert.deepEqual(tensorI32(tensors.get("tokens")!), data);
 * ```
 */
export function tensorI32(t: SafeTensor): Int32Array<ArrayBuffer> {
  const n = _numel(t.shape), d = t.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out = new Int32Array(n);
  const get: ((i: number) => number | bigint) | undefined = ({
    I32: (i: number) => dv.getInt32(4 * i, true),
    I16: (i: number) => dv.getInt16(2 * i, true),
    I8: (i: number) => dv.getInt8(i),
    U16: (i: number) => dv.getUint16(2 * i, true),
    U8: (i: number) => dv.getUint8(i),
    BOOL: (i: number) => dv.getUint8(i),
    U32: (i: number) => dv.getUint32(4 * i, true),
    I64: (i: number) => dv.getBigInt64(8 * i, true),
    U64: (i: number) => dv.getBigUint64(8 * i, true),
  } as Partial<Record<SafeDtype, (i: number) => number | bigint>>)[t.dtype];
  if (!get) {
    throw new TypeError(`Cannot convert tensor to int32: dtype ${t.dtype} is not an integer type`);
  }
  for (let i = 0; i < n; i++) {
    const v = Number(get(i));
    if (v < -2147483648 || v > 2147483647) {
      throw new RangeError(`Cannot convert tensor to int32: value ${v} at ${i} does not fit`);
    }
    out[i] = v;
  }
  return out;
}
