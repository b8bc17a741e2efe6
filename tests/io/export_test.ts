import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { exportCommand, exportModel } from "../../src/cli/export.ts";
import { parseCommand, UsageError } from "../../src/cli/args.ts";
import { saveCheckpoint } from "../../src/io/checkpoint.ts";
import {
  encodeLlama2cV0,
  encodeLlama2cV2,
  q80GroupSize,
  quantizeQ80,
  readLlama2c,
  readLlama2cFile,
  readLlama2cV2,
  roundHalfEven,
} from "../../src/io/llama2c.ts";
import { encodeTokenizerBin } from "../../src/data/tokenizer_bin.ts";
import { hfConfig, hfTensors, permuteForHf } from "../../src/io/hf.ts";
import { readSafetensorsFile, tensorF32 } from "../../src/io/safetensors.ts";
import { type ModelConfig, modelConfig } from "../../src/model/config.ts";
import { bitsAt } from "../../src/util/rng.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { TRAIN_DEFAULTS } from "../../src/train/config.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { encodeModelProto, ModelType, PieceType } from "../../src/data/sentencepiece_model.ts";

/** A SentencePiece BPE ModelProto with `n` pieces (`<unk>`, `<s>`, `</s>`, then `pN`). */
function spModel(n: number): Uint8Array {
  const special = [["<unk>", PieceType.UNKNOWN], ["<s>", PieceType.CONTROL], [
    "</s>",
    PieceType.CONTROL,
  ]];
  return encodeModelProto({
    pieces: Array.from({ length: n }, (_, i) => ({
      piece: i < 3 ? special[i][0] as string : `p${i}`,
      score: -i,
      type: i < 3 ? special[i][1] as PieceType : PieceType.NORMAL,
    })),
    trainerSpec: { modelType: ModelType.BPE, vocabSize: n },
    normalizerSpec: { name: "identity" },
  });
}

interface RefModel {
  seed: number;
  config: ModelConfig;
  v2: {
    group_size: number;
    bytes: number;
    sha256: string;
    max_error: number;
    sections: [string, number, string][];
    planted: Record<string, number | number[]>;
  };
  hf: {
    tensors: Record<string, { shape: number[]; sha256: string }>;
    q_proj0_row1_first4: number[];
    config: Record<string, unknown>;
  };
}

const REF: { models: RefModel[] } = JSON.parse(
  Deno.readTextFileSync(join(REPO_ROOT, "tests", "fixtures", "export_reference.json")),
);

/** The fixture's parameters: same formula and planted values as tools/export_reference.py. */
function refParams(m: RefModel): { config: ModelConfig; params: Float32Array<ArrayBuffer> } {
  const config = modelConfig(m.config);
  const t = tensorTable(config), params = new Float32Array(t.size);
  let j = 0;
  for (const e of t.entries) {
    for (let l = 0; l < e.layers; l++) {
      for (let i = 0; i < e.layerNumel; i++) {
        params[e.offset + l * e.layerStride + i] = ((bitsAt(m.seed, j++) & 0xffff) - 32768) /
          32768 * 0.05;
      }
    }
  }
  // Planted: exact ties in wq[0]'s first group (its scale is 127 / 127 = 1) and an all-zero
  // group at the start of w2[L-1].
  params.set([127, 2.5, -3.5, 0.5, 1.5, -0.5, -2.5], t.byName.get("wq")!.offset);
  const w2 = t.byName.get("w2")!, at = w2.offset + (config.n_layers - 1) * w2.layerStride;
  params.fill(0, at, at + q80GroupSize(config.dim));
  return { config, params };
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("roundHalfEven and q80GroupSize follow torch.round and export.py", () => {
  assert.deepEqual([2.5, -3.5, 0.5, 1.5, -0.5, -2.5, 2.4, -2.6].map(roundHalfEven), [
    2,
    -4,
    0,
    2,
    -0,
    -2,
    2,
    -3,
  ]);
  assert.equal(q80GroupSize(288), 32);
  assert.equal(q80GroupSize(64), 64);
  assert.equal(q80GroupSize(48), 16);
  assert.equal(q80GroupSize(4096), 64);
});

Deno.test("encodeLlama2cV2 matches the PyTorch reimplementation of export.py byte for byte", async () => {
  for (const m of REF.models) {
    const { config, params } = refParams(m);
    const { bytes, groupSize, maxErr } = encodeLlama2cV2(config, params);
    assert.equal(groupSize, m.v2.group_size);
    assert.equal(bytes.length, m.v2.bytes);
    let at = 0;
    for (const [name, len, digest] of m.v2.sections) {
      assert.equal(await sha256(bytes.slice(at, at + len)), digest, `section ${name}`);
      at += len;
    }
    assert.equal(await sha256(bytes), m.v2.sha256);
    assert.equal(maxErr, m.v2.max_error);
  }
});

Deno.test("v2 dequantizes back within the Q8_0 bound (scale / 2 per group)", () => {
  for (const m of REF.models) {
    const { config, params } = refParams(m);
    const { bytes } = encodeLlama2cV2(config, params);
    const back = readLlama2cV2(bytes);
    assert.deepEqual(back.config, config);
    const t = tensorTable(config), gs = back.groupSize;
    for (const e of t.entries) {
      for (let l = 0; l < e.layers; l++) {
        const off = e.offset + l * e.layerStride;
        const w = params.subarray(off, off + e.layerNumel);
        const d = back.params.subarray(off, off + e.layerNumel);
        if (e.name.startsWith("rms")) {
          assert.deepEqual(d, w, `${e.name} kept in f32`);
          continue;
        }
        for (let g = 0; g < w.length / gs; g++) {
          let amax = 0;
          for (let i = 0; i < gs; i++) amax = Math.max(amax, Math.abs(w[g * gs + i]));
          // half a quantization step, plus f32 rounding of the scale and of q * scale
          const bound = (amax / 127) / 2 + amax * 2 ** -22;
          for (let i = 0; i < gs; i++) {
            const err = Math.abs(d[g * gs + i] - w[g * gs + i]);
            assert.ok(err <= bound, `${e.name}[${l}] ${g * gs + i}: err ${err} > ${bound}`);
          }
        }
      }
    }
  }
  const { q, s } = quantizeQ80(new Float32Array(8), 4);
  assert.deepEqual([...q, ...s], new Array(10).fill(0));
  assert.throws(() => quantizeQ80(new Float32Array(6), 4), RangeError);
});

Deno.test("hfTensors names, shapes and q/k permutation match the PyTorch reference", async () => {
  for (const m of REF.models) {
    const { config, params } = refParams(m);
    const got = hfTensors(config, params);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(m.hf.tensors).sort());
    for (const [name, want] of Object.entries(m.hf.tensors)) {
      const t = got[name];
      assert.deepEqual(t.shape, want.shape, name);
      const d = t.data as Float32Array;
      const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
      assert.equal(await sha256(bytes), want.sha256, name);
    }
    const q = got["model.layers.0.self_attn.q_proj.weight"].data as Float32Array;
    assert.deepEqual(Array.from(q.subarray(config.dim, config.dim + 4)), m.hf.q_proj0_row1_first4);
    const cfg = hfConfig(config);
    for (const [k, v] of Object.entries(m.hf.config)) assert.deepEqual(cfg[k], v, k);
  }
  // Permutation by hand: 1 head of size 4, rows [r0 r1 r2 r3] -> [r0 r2 r1 r3].
  const w = Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual(Array.from(permuteForHf(w, 1, 4, 2)), [0, 0, 2, 2, 1, 1, 3, 3]);
});

Deno.test("export command: checkpoint dir -> v0, v1, v2 and hf files that read back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = REF.models[1]; // untied
    const { config, params } = refParams(m);
    const out = join(dir, "run");
    await saveCheckpoint(out, {
      config,
      trainConfig: { ...TRAIN_DEFAULTS, vocab_source: "custom", vocab_size: 64, dim: 48 },
      iter: 1,
      bestValLoss: 3,
      rngState: { train: [1, 2, 3, 4], val: [4, 3, 2, 1] },
      params,
      adamM: new Float32Array(params.length),
      adamV: new Float32Array(params.length),
    }, { modelBin: false });
    for (const v of ["v0", "v1"] as const) {
      const msg = await exportModel(out, v, join(dir, `${v}.bin`));
      assert.match(msg, new RegExp(`llama2.c ${v}`));
      const back = await readLlama2cFile(join(dir, `${v}.bin`));
      assert.equal(back.version, v === "v0" ? 0 : 1);
      assert.deepEqual(back.params, params);
      assert.equal(back.config.shared_classifier, false);
    }
    // v2 from a .bin input this time.
    assert.match(await exportModel(join(dir, "v0.bin"), "v2", join(dir, "q.bin")), /group size 16/);
    assert.equal(await sha256(await Deno.readFile(join(dir, "q.bin"))), m.v2.sha256);
    const tok = join(dir, "tokenizer.model");
    const tokBytes = spModel(64);
    await Deno.writeFile(tok, tokBytes);
    await exportModel(out, "hf", join(dir, "hf"), tok);
    const names = [...Deno.readDirSync(join(dir, "hf"))].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.model",
      "tokenizer_config.json",
    ]);
    const st = await readSafetensorsFile(join(dir, "hf", "model.safetensors"));
    assert.equal(st.metadata.format, "pt");
    assert.deepEqual(st.tensors.get("lm_head.weight")!.shape, [64, 48]);
    const v = tensorF32(st.tensors.get("model.layers.1.self_attn.v_proj.weight")!);
    const e = tensorTable(config).byName.get("wv")!;
    assert.deepEqual(
      v,
      params.slice(e.offset + e.layerStride, e.offset + e.layerStride + e.layerNumel),
    );
    const cfgJson = JSON.parse(await Deno.readTextFile(join(dir, "hf", "config.json")));
    assert.equal(cfgJson.tie_word_embeddings, false);
    assert.deepEqual(await Deno.readFile(join(dir, "hf", "tokenizer.model")), tokBytes);
    await assert.rejects(
      exportModel(join(dir, "nope"), "v0", join(dir, "x.bin")),
      /does not exist/,
    );
    assert.throws(() => readLlama2c(new Uint8Array(0)), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `export` with argv as main.ts would (parse, then run). */
async function run(argv: string[]): Promise<number | void> {
  const { values, positionals, given } = parseCommand(exportCommand.flags, argv);
  return await exportCommand.run(values, positionals, given);
}

const tokModel = await sharedFile("tokenizer.model");
const tokBin = await sharedFile("tokenizer.bin");

Deno.test({
  name: "export --tokenizer-bin reproduces llama2.c's tokenizer.bin byte for byte",
  ignore: tokModel === null || tokBin === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "tokenizer.bin");
      const log = console.log;
      console.log = () => {};
      try {
        assert.equal(await run(["--tokenizer-bin", "--tokenizer", tokModel!, "--out", out]), 0);
      } finally {
        console.log = log;
      }
      const got = await Deno.readFile(out), want = await Deno.readFile(tokBin!);
      assert.equal(got.length, want.length);
      assert.ok(got.every((b, i) => b === want[i]), "bytes differ");
      assert.deepEqual(encodeTokenizerBin(await Deno.readFile(tokModel!)), want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("export command line: usage errors are UsageErrors", async () => {
  await assert.rejects(run(["--out", "x.bin"]), UsageError); // no --checkpoint
  await assert.rejects(run(["--tokenizer-bin", "--out", "x.bin"]), UsageError);
  await assert.rejects(run(["--checkpoint", "d", "--format", "v3", "--out", "x"]), UsageError);
  await assert.rejects(run(["--checkpoint", "d", "--out", "x", "--tokenizer", "t"]), Error);
  await assert.rejects(run(["--checkpoint", "/nonexistent", "--out", "x"]), /does not exist/);
});

Deno.test("export --format hf checks the tokenizer against the model's vocab", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = REF.models[1];
    const { config, params } = refParams(m); // vocab 64
    const model = join(dir, "m.bin");
    await Deno.writeFile(model, encodeLlama2cV0(config, params));
    const big = join(dir, "big.model"),
      small = join(dir, "small.model"),
      bad = join(dir, "x.model");
    await Deno.writeFile(big, spModel(512));
    await Deno.writeFile(small, spModel(60));
    await Deno.writeFile(bad, new Uint8Array([1, 2, 3]));
    await assert.rejects(
      exportModel(model, "hf", join(dir, "hf1"), big),
      /^RangeError: Cannot export: the tokenizer .*big\.model has 512 pieces but the model's vocab is 64: it would produce ids the model does not have$/,
    );
    await assert.rejects(
      exportModel(model, "hf", join(dir, "hf2"), bad),
      /Cannot export: --tokenizer .*x\.model is not a SentencePiece model/,
    );
    assert.ok(!existsSync(join(dir, "hf1")) && !existsSync(join(dir, "hf2")), "nothing written");
    const warnings: string[] = [];
    const error = console.error;
    console.error = (s: string) => void warnings.push(s);
    try {
      await exportModel(model, "hf", join(dir, "hf3"), small);
    } finally {
      console.error = error;
    }
    assert.deepEqual(warnings, [
      `warning: the tokenizer ${small} has 60 pieces, the model's vocab is 64: ids 60..63 have no piece`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
