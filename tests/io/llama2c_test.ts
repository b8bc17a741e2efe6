import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeLlama2cV0,
  encodeLlama2cV1,
  readLlama2c,
  readLlama2cFile,
  writeLlama2cFile,
} from "../../src/io/llama2c.ts";
import { type ModelConfig, modelConfig } from "../../src/model/config.ts";
import { type TensorName, tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { sharedFile } from "../helpers/data.ts";
import { ropeFreqs } from "../../src/model/rope_freqs.ts";

const stories = await sharedFile("stories260K.bin");

/** A small GQA config with an odd hidden size, tied or not. */
function smallConfig(shared: boolean): ModelConfig {
  return modelConfig({
    dim: 24,
    n_layers: 3,
    n_heads: 6,
    n_kv_heads: 2,
    vocab_size: 37,
    hidden_dim: 50,
    max_seq_len: 10,
    shared_classifier: shared,
  });
}

/** Params where every element says where it belongs: tensor k, layer l, index i. */
function taggedParams(cfg: ModelConfig): Float32Array<ArrayBuffer> {
  const table = tensorTable(cfg);
  const p = new Float32Array(table.size).fill(NaN); // padding must never be written
  table.entries.forEach((e, k) => {
    for (let l = 0; l < e.layers; l++) {
      for (let i = 0; i < e.layerNumel; i++) {
        p[e.offset + l * e.layerStride + i] = k * 1e6 + l * 1e5 + i;
      }
    }
  });
  return p;
}

/** The tag taggedParams gave element i of layer l of `name`. */
function tag(name: TensorName, l: number, i: number, cfg: ModelConfig): number {
  const k = tensorTable(cfg).entries.findIndex((e) => e.name === name);
  return k * 1e6 + l * 1e5 + i;
}

/** Real elements (padding excluded) of two flat buffers are equal. */
function assertSameParams(cfg: ModelConfig, a: Float32Array, b: Float32Array) {
  const table = tensorTable(cfg);
  assert.equal(a.length, table.size);
  assert.equal(b.length, table.size);
  for (const e of table.entries) {
    for (let l = 0; l < e.layers; l++) {
      const o = e.offset + l * e.layerStride;
      const x = a.subarray(o, o + e.layerNumel), y = b.subarray(o, o + e.layerNumel);
      for (let i = 0; i < x.length; i++) {
        if (!Object.is(x[i], y[i])) assert.fail(`${e.name}[${l}][${i}]: ${x[i]} != ${y[i]}`);
      }
    }
  }
}

Deno.test({
  name: "readLlama2c loads stories260K.bin (legacy v0) with the values at run.c's offsets",
  ignore: stories === null,
  async fn() {
    const bytes = await Deno.readFile(stories!);
    const ck = readLlama2c(bytes);
    assert.equal(ck.version, 0);
    const c = ck.config;
    assert.deepEqual(
      [
        c.dim,
        c.hidden_dim,
        c.n_layers,
        c.n_heads,
        c.n_kv_heads,
        c.vocab_size,
        c.max_seq_len,
        c.shared_classifier,
      ],
      [64, 172, 5, 8, 4, 512, 512, true],
    );
    // run.c's memory_map_weights offsets, written out by hand (floats after the 28-byte header)
    const raw = new Float32Array(bytes.buffer, 28);
    const C = 64, H = 172, L = 5, KV = 32, V = 512, T = 512, HS = 8;
    const off: Record<string, number> = {};
    let o = 0;
    for (
      const [n, size] of [
        ["tok_embeddings", V * C],
        ["rms_att", L * C],
        ["wq", L * C * C],
        ["wk", L * KV * C],
        ["wv", L * KV * C],
        ["wo", L * C * C],
        ["rms_ffn", L * C],
        ["w1", L * H * C],
        ["w2", L * C * H],
        ["w3", L * H * C],
        ["rms_final", C],
        ["freqs_cos", (T * HS) / 2],
        ["freqs_sin", (T * HS) / 2],
      ] as const
    ) {
      off[n] = o;
      o += size;
    }
    assert.equal(28 + 4 * o, bytes.length);
    const table = tensorTable(c);
    const at = (name: TensorName, l: number, i: number) => {
      const e = table.byName.get(name)!;
      return ck.params[e.offset + l * e.layerStride + i];
    };
    for (
      const [name, l, i, per] of [
        ["tok_embeddings", 0, 12345, 0],
        ["rms_att", 3, 17, C],
        ["wq", 4, C * C - 1, C * C],
        ["wk", 2, 1000, KV * C],
        ["wv", 1, 2047, KV * C],
        ["wo", 0, 5, C * C],
        ["rms_ffn", 2, 63, C],
        ["w1", 3, 9999, H * C],
        ["w2", 4, 1, C * H],
        ["w3", 1, H * C - 1, H * C],
        ["rms_final", 0, 31, 0],
      ] as const
    ) {
      assert.equal(at(name, l, i), raw[off[name] + l * per + i], `${name}[${l}][${i}]`);
    }
    // The stored RoPE tables agree with model.py's formula (not used by the reader).
    const { cos, sin } = ropeFreqs(HS, T);
    for (let i = 0; i < cos.length; i++) {
      assert.ok(Math.abs(cos[i] - raw[off.freqs_cos + i]) < 2e-7, `cos ${i}`);
      assert.ok(Math.abs(sin[i] - raw[off.freqs_sin + i]) < 2e-7, `sin ${i}`);
    }
    // Re-encoding gives the same weights byte for byte.
    const again = encodeLlama2cV0(c, ck.params);
    assert.equal(again.length, bytes.length);
    const a = new Float32Array(again.buffer, 28);
    for (let i = 0; i < off.freqs_cos; i++) {
      if (!Object.is(a[i], raw[i])) assert.fail(`weight float ${i}: ${a[i]} != ${raw[i]}`);
    }
    assert.deepEqual(again.subarray(0, 28), bytes.subarray(0, 28));
  },
});

Deno.test("ropeFreqs (the tables written into v0 files) matches model.py's precompute_freqs_cis formula in f64", () => {
  const { cos, sin } = ropeFreqs(8, 16);
  for (let t = 0; t < 16; t++) {
    for (let i = 0; i < 4; i++) {
      const a = t / Math.pow(10000, (2 * i) / 8);
      assert.ok(Math.abs(cos[t * 4 + i] - Math.cos(a)) < 1e-5);
      assert.ok(Math.abs(sin[t * 4 + i] - Math.sin(a)) < 1e-5);
    }
  }
});

Deno.test("encodeLlama2cV0 writes legacy_export's order; negative vocab when unshared", () => {
  for (const shared of [true, false]) {
    const cfg = smallConfig(shared);
    const p = taggedParams(cfg);
    const bytes = encodeLlama2cV0(cfg, p);
    const dv = new DataView(bytes.buffer);
    const hdr = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
    assert.deepEqual(hdr, [24, 50, 3, 6, 2, shared ? 37 : -37, 10]);
    const f = new Float32Array(bytes.buffer, 28);
    const C = 24, H = 50, L = 3, KV = 8, V = 37, T = 10, HS = 4;
    // expected sequence: tensor by tensor, all layers of one before the next
    const seq: [TensorName, number][] = [
      ["tok_embeddings", V * C],
      ["rms_att", C],
      ["wq", C * C],
      ["wk", KV * C],
      ["wv", KV * C],
      ["wo", C * C],
      ["rms_ffn", C],
      ["w1", H * C],
      ["w2", C * H],
      ["w3", H * C],
      ["rms_final", C],
    ];
    let o = 0;
    for (const [name, n] of seq) {
      const layers = name === "tok_embeddings" || name === "rms_final" ? 1 : L;
      for (let l = 0; l < layers; l++) {
        assert.equal(f[o], tag(name, l, 0, cfg), `${name} layer ${l} first`);
        assert.equal(f[o + n - 1], tag(name, l, n - 1, cfg), `${name} layer ${l} last`);
        o += n;
      }
    }
    const { cos, sin } = ropeFreqs(HS, T);
    assert.deepEqual(f.slice(o, o + (T * HS) / 2), cos);
    assert.deepEqual(f.slice(o + (T * HS) / 2, o + T * HS), sin);
    o += T * HS;
    if (!shared) {
      assert.equal(f[o], tag("wcls", 0, 0, cfg));
      assert.equal(f[o + V * C - 1], tag("wcls", 0, V * C - 1, cfg));
      o += V * C;
    }
    assert.equal(f.length, o);
  }
});

Deno.test("encodeLlama2cV1 writes version1_export's header and order", () => {
  for (const shared of [true, false]) {
    const cfg = smallConfig(shared);
    const bytes = encodeLlama2cV1(cfg, taggedParams(cfg));
    const dv = new DataView(bytes.buffer);
    assert.equal(dv.getUint32(0, true), 0x616b3432);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x32, 0x34, 0x6b, 0x61]); // "24ka" as LE bytes
    assert.equal(dv.getInt32(4, true), 1);
    const hdr = Array.from({ length: 7 }, (_, i) => dv.getInt32(8 + 4 * i, true));
    assert.deepEqual(hdr, [24, 50, 3, 6, 2, 37, 10]);
    assert.equal(bytes[36], shared ? 1 : 0);
    assert.ok(bytes.subarray(37, 256).every((b) => b === 0));
    const f = new Float32Array(bytes.buffer, 256);
    const C = 24, H = 50, L = 3, KV = 8, V = 37;
    const seq: [TensorName, number, number][] = [
      ["rms_att", C, L],
      ["rms_ffn", C, L],
      ["rms_final", C, 1],
      ["tok_embeddings", V * C, 1],
      ["wq", C * C, L],
      ["wk", KV * C, L],
      ["wv", KV * C, L],
      ["wo", C * C, L],
      ["w1", H * C, L],
      ["w2", C * H, L],
      ["w3", H * C, L],
      ...(shared ? [] : [["wcls", V * C, 1] as [TensorName, number, number]]),
    ];
    let o = 0;
    for (const [name, n, layers] of seq) {
      for (let l = 0; l < layers; l++) {
        for (const i of [0, n >> 1, n - 1]) {
          assert.equal(f[o + i], tag(name, l, i, cfg), `${name} layer ${l} [${i}]`);
        }
        o += n;
      }
    }
    assert.equal(f.length, o);
  }
});

Deno.test("llama2.c v0 and v1 round trip (shared and unshared classifier)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const shared of [true, false]) {
      const cfg = smallConfig(shared);
      const params = initParams(tensorTable(cfg), 7);
      for (const [version, enc] of [[0, encodeLlama2cV0], [1, encodeLlama2cV1]] as const) {
        const ck = readLlama2c(enc(cfg, params));
        assert.equal(ck.version, version);
        assert.deepEqual(ck.config, cfg);
        assert.deepEqual(ck.params, params); // padding is zero in both
        const path = join(dir, `m${version}${shared}.bin`);
        await writeLlama2cFile(path, enc(cfg, params));
        const fromFile = await readLlama2cFile(path);
        assertSameParams(cfg, fromFile.params, params);
      }
    }
    // no temp files left behind
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["m0false.bin", "m0true.bin", "m1false.bin", "m1true.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readLlama2c rejects truncated or padded files with both sizes in the message", () => {
  const cfg = smallConfig(false);
  const p = initParams(tensorTable(cfg), 1);
  for (const enc of [encodeLlama2cV0, encodeLlama2cV1]) {
    const good = enc(cfg, p);
    for (const bad of [good.subarray(0, good.length - 4), new Uint8Array(good.length + 4)]) {
      if (bad.length > good.length) bad.set(good);
      assert.throws(
        () => readLlama2c(bad),
        (e: Error) =>
          e instanceof SyntaxError &&
          e.message.startsWith("Cannot read llama2.c checkpoint: expected ") &&
          e.message.includes(`expected ${good.length} bytes for dim 24`) &&
          e.message.includes(`got ${bad.length}`),
      );
    }
  }
  assert.throws(() => readLlama2c(new Uint8Array(10)), SyntaxError);
});

Deno.test("readLlama2c rejects bad headers: version 2, bad flag, impossible shapes", () => {
  const cfg = smallConfig(true);
  const v1 = encodeLlama2cV1(cfg, initParams(tensorTable(cfg), 1));
  const withInt = (src: Uint8Array, at: number, v: number) => {
    const b = src.slice();
    new DataView(b.buffer).setInt32(at, v, true);
    return b;
  };
  const expectSyntax = (b: Uint8Array, re: RegExp) =>
    assert.throws(
      () => readLlama2c(b),
      (e: Error) => e instanceof SyntaxError && re.test(e.message),
    );
  expectSyntax(withInt(v1, 4, 2), /^Cannot read llama2.c checkpoint: version 2 is not supported/);
  const flag = v1.slice();
  flag[36] = 7;
  expectSyntax(flag, /shared_classifier flag is 7/);
  expectSyntax(withInt(v1, 8 + 4 * 5, -37), /vocab_size -37 is not positive/);
  const v0 = encodeLlama2cV0(cfg, initParams(tensorTable(cfg), 1));
  expectSyntax(withInt(v0, 0, 0), /dim is 0, not positive/);
  expectSyntax(withInt(v0, 12, 5), /invalid header .*not divisible by n_heads 5/);
  expectSyntax(withInt(v0, 20, 0), /vocab_size is 0/);
  // a wrong size for the header's shape still names the sizes
  expectSyntax(withInt(v0, 4, 51), /expected \d+ bytes for dim 24, hidden_dim 51/);
  assert.throws(() => encodeLlama2cV0(cfg, new Float32Array(3)), TypeError);
});
