import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DTYPE_SIZE,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsFile,
  type SafeDtype,
  tensorF32,
  tensorI32,
  writeSafetensorsFile,
} from "../../src/io/safetensors.ts";
import { modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { bitsAt } from "../../src/util/rng.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** A file from a hand-written header object and data bytes (no validation). */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectSyntax(bytes: Uint8Array, re: RegExp) {
  assert.throws(
    () => readSafetensors(bytes),
    (e: Error) => {
      assert.ok(e instanceof SyntaxError, `${e.name}: ${e.message}`);
      assert.match(e.message, /^Cannot read safetensors: /);
      assert.match(e.message, re);
      return true;
    },
  );
}

Deno.test("encodeSafetensors round trips every dtype, aligned, with metadata", () => {
  const f64 = Float64Array.from([1.5, -2, Math.PI]);
  const f32 = Float32Array.from([0.1, -7, 3e38, -0]);
  const u8 = Uint8Array.from([1, 2, 3]);
  const i64 = BigInt64Array.from([-(2n ** 40n), 5n]);
  const u16 = Uint16Array.from([65535, 0, 7, 9, 11]);
  const bytes = encodeSafetensors(
    {
      u8: { dtype: "U8", shape: [3], data: u8 },
      f32: { dtype: "F32", shape: [2, 2], data: f32 },
      u16: { dtype: "U16", shape: [5], data: u16 },
      f64: { dtype: "F64", shape: [3, 1], data: f64 },
      i64: { dtype: "I64", shape: [2], data: i64 },
      scalar: { dtype: "F32", shape: [], data: Float32Array.of(2.5) },
      empty: { dtype: "I32", shape: [0, 3], data: new Int32Array(0) },
    },
    { format: "pt", note: "ünïcode ✓" },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0, "header padded to 8 bytes");
  const { tensors, metadata } = readSafetensors(bytes);
  assert.deepEqual(metadata, { format: "pt", note: "ünïcode ✓" });
  assert.deepEqual([...tensors.keys()].sort(), [
    "empty",
    "f32",
    "f64",
    "i64",
    "scalar",
    "u16",
    "u8",
  ]);
  for (const [name, t] of tensors) {
    assert.equal(t.data.byteOffset % DTYPE_SIZE[t.dtype], 0, `${name} aligned`);
  }
  assert.deepEqual(tensors.get("f32")!.shape, [2, 2]);
  assert.deepEqual(tensorF32(tensors.get("f32")!), f32);
  assert.deepEqual(tensorF32(tensors.get("f64")!), Float32Array.from(f64));
  assert.deepEqual(tensorF32(tensors.get("scalar")!), Float32Array.of(2.5));
  assert.deepEqual(tensorI32(tensors.get("u16")!), Int32Array.from(u16));
  assert.deepEqual(tensorI32(tensors.get("u8")!), Int32Array.from(u8));
  assert.deepEqual(tensors.get("empty")!.shape, [0, 3]);
  assert.equal(tensors.get("empty")!.data.length, 0);
  assert.deepEqual(
    new BigInt64Array(tensors.get("i64")!.data.slice().buffer),
    i64,
  );
  assert.throws(() => tensorI32(tensors.get("i64")!), RangeError); // -2^40 does not fit
  assert.throws(() => tensorF32(tensors.get("u8")!), TypeError);
  assert.throws(() => tensorI32(tensors.get("f32")!), TypeError);
});

Deno.test("tensorF32 copies unaligned F32 data", () => {
  const bytes = encodeSafetensors({
    a: { dtype: "U8", shape: [1], data: Uint8Array.of(9) },
    b: { dtype: "F32", shape: [2], data: Float32Array.of(1.25, -3) },
  });
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  const t = readSafetensors(shifted).tensors.get("b")!;
  assert.notEqual(t.data.byteOffset % 4, 0);
  assert.deepEqual(tensorF32(t), Float32Array.of(1.25, -3));
});

Deno.test("encodeSafetensors rejects wrong sizes, dtypes and names", () => {
  assert.throws(
    () => encodeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    (e: Error) => e instanceof TypeError && /needs 12 bytes, got 8/.test(e.message),
  );
  assert.throws(
    () =>
      encodeSafetensors({
        a: { dtype: "F33" as SafeDtype, shape: [1], data: new Float32Array(1) },
      }),
    TypeError,
  );
  assert.throws(
    () => encodeSafetensors({ __metadata__: { dtype: "U8", shape: [1], data: new Uint8Array(1) } }),
    TypeError,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: "U8", shape: [-1], data: new Uint8Array(1) } }),
    TypeError,
  );
});

Deno.test("readSafetensors rejects corrupt files", () => {
  const d8 = new Uint8Array(8);
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  readSafetensors(rawFile(ok, d8)); // the baseline is valid
  expectSyntax(new Uint8Array(5), /shorter than the 8-byte header/);
  const big = rawFile(ok, d8);
  new DataView(big.buffer).setBigUint64(0, 1n << 40n, true);
  expectSyntax(big, /header length 1099511627776 exceeds/);
  expectSyntax(rawFile(null, d8, "{not json"), /not valid UTF-8 JSON/);
  expectSyntax(rawFile(null, d8, "[1,2,3]"), /not a JSON object/);
  expectSyntax(rawFile({ a: { dtype: "F99", shape: [2], data_offsets: [0, 8] } }, d8), /dtype/);
  expectSyntax(rawFile({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, d8), /needs 12/);
  expectSyntax(rawFile({ a: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, d8), /shape/);
  expectSyntax(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, d8), /offsets/);
  expectSyntax(
    rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, d8.subarray(4)),
    /cover 8 data bytes, the file has 4/,
  );
  expectSyntax(rawFile(ok, new Uint8Array(12)), /cover 8 data bytes, the file has 12/);
  expectSyntax(
    rawFile({
      a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
    }, new Uint8Array(12)),
    /hole/,
  );
  expectSyntax(
    rawFile({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
    }, d8),
    /overlap/,
  );
  expectSyntax(rawFile({ ...ok, __metadata__: { n: 1 } }, d8), /__metadata__.n is not a string/);
  expectSyntax(rawFile({ ...ok, b: [1] }, d8), /entry "b" is not an object/);
});

Deno.test("writeSafetensorsFile writes atomically and readSafetensorsFile reads it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.safetensors");
    const w = Float32Array.from({ length: 100 }, (_, i) => i / 7);
    await writeSafetensorsFile(path, { w: { dtype: "F32", shape: [10, 10], data: w } }, {
      step: "3",
    });
    const { tensors, metadata } = await readSafetensorsFile(path);
    assert.deepEqual(tensorF32(tensors.get("w")!), w);
    assert.deepEqual(metadata, { step: "3" });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.safetensors"]);
    await Deno.writeFile(path, new Uint8Array(3));
    await assert.rejects(
      () => readSafetensorsFile(path),
      (e: Error) => e instanceof SyntaxError && e.message.includes(`(in ${path})`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reads a file written by Python (tools/safetensors_io.py): every dtype", async () => {
  const { tensors, metadata } = await readSafetensorsFile(
    new URL("model_tiny_dtypes.safetensors", FIXTURES).pathname,
  );
  assert.deepEqual(metadata, { writer: "tools/safetensors_io.py", unicode: "ünï ✓" });
  const floats = (n: number) => Float32Array.from({ length: n }, (_, i) => (i - 3) / 2);
  for (const [name, shape] of [["f64", [2, 3]], ["f32", [3, 2]], ["f16", [6]], ["bf16", [2, 3]]]) {
    const t = tensors.get(name as string)!;
    assert.deepEqual(t.shape, shape, name as string);
    assert.deepEqual(tensorF32(t), floats(6), name as string);
  }
  assert.equal(tensors.get("f16")!.dtype, "F16");
  assert.equal(tensors.get("bf16")!.dtype, "BF16");
  const ints = (n: number, f: (i: number) => number) =>
    Int32Array.from({ length: n }, (_, i) => f(i));
  assert.deepEqual(tensorI32(tensors.get("i32")!), ints(7, (i) => i - 3));
  assert.deepEqual(tensors.get("i32")!.shape, [7, 1]);
  assert.deepEqual(tensorI32(tensors.get("i16")!), ints(3, (i) => i - 3));
  assert.deepEqual(tensorI32(tensors.get("i8")!), ints(4, (i) => i - 3));
  assert.deepEqual(tensorI32(tensors.get("u16")!), ints(9, (i) => i * 7000));
  assert.deepEqual(tensorI32(tensors.get("u8")!), ints(5, (i) => i * 60));
  assert.deepEqual(tensorI32(tensors.get("bool")!), Int32Array.of(1, 0, 1));
  const i64 = new BigInt64Array(tensors.get("i64")!.data.slice().buffer);
  assert.deepEqual(i64, BigInt64Array.from([-3n, -2n, -1n, 0n, 1n].map((v) => v * 1000000007n)));
  assert.deepEqual(tensors.get("scalar")!.shape, []);
  assert.deepEqual(tensorF32(tensors.get("scalar")!), Float32Array.of(2.5));
  assert.deepEqual(tensors.get("empty")!.shape, [0, 4]);
});

Deno.test("reads the Python-written tiny model fixture: weights equal TS initParams", async () => {
  const { tensors, metadata } = await readSafetensorsFile(
    new URL("model_tiny.safetensors", FIXTURES).pathname,
  );
  const cfg = modelConfig(JSON.parse(metadata.config));
  assert.equal(cfg.hidden_dim, 128);
  const seed = Number(metadata.seed), B = Number(metadata.B), T = Number(metadata.T);
  const table = tensorTable(cfg);
  const params = initParams(table, seed);
  for (const e of table.entries) {
    const t = tensors.get(`param.${e.name}`)!;
    assert.deepEqual(t.shape, e.layers > 1 ? [e.layers, ...e.shape] : e.shape, e.name);
    const py = tensorF32(t);
    for (let l = 0; l < e.layers; l++) {
      const ts = params.subarray(e.offset + l * e.layerStride, e.offset + (l + 1) * e.layerStride);
      for (let i = 0; i < e.layerNumel; i++) {
        if (py[l * e.layerNumel + i] !== ts[i]) {
          assert.fail(`${e.name}[${l}][${i}]: python ${py[l * e.layerNumel + i]} != ts ${ts[i]}`);
        }
      }
    }
    assert.ok(tensors.has(`grad.${e.name}`) && tensors.has(`param_after_adamw.${e.name}`));
  }
  // tokens and targets follow the documented counter-based stream
  const tokens = tensorI32(tensors.get("tokens")!), targets = tensorI32(tensors.get("targets")!);
  assert.deepEqual(tensors.get("tokens")!.shape, [B, T]);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const s = (i: number) => bitsAt(seed + 1, b * (T + 1) + i) % cfg.vocab_size;
      assert.equal(tokens[b * T + t], s(t));
      const y = targets[b * T + t];
      assert.ok(y === s(t + 1) || y === -1);
    }
  }
  assert.equal(targets.filter((y) => y === -1).length, 3);
  assert.deepEqual(tensors.get("logits")!.shape, [B, T, cfg.vocab_size]);
});
