import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECKPOINT_FILES,
  type CheckpointState,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/io/checkpoint.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { TRAIN_DEFAULTS, type TrainConfig, validateTrainConfig } from "../../src/train/config.ts";
import { Xoshiro128 } from "../../src/util/rng.ts";

/** Flat array with a distinct value per real element, zero padding (like the GPU buffers). */
function flat(cfg: ReturnType<typeof modelConfig>, base: number): Float32Array<ArrayBuffer> {
  const t = tensorTable(cfg), a = new Float32Array(t.size);
  let k = 0;
  for (const e of t.entries) {
    for (let l = 0; l < e.layers; l++) {
      for (let i = 0; i < e.layerNumel; i++) {
        a[e.offset + l * e.layerStride + i] = base + k++ * 1e-3;
      }
    }
  }
  return a;
}

function state(shared = true): CheckpointState<TrainConfig> {
  const config = modelConfig({
    dim: 64,
    n_layers: 2,
    n_heads: 4,
    n_kv_heads: 2,
    vocab_size: 512,
    max_seq_len: 32,
    shared_classifier: shared,
  });
  const rng = Xoshiro128.fromSeed(5);
  return {
    config,
    trainConfig: {
      ...TRAIN_DEFAULTS,
      vocab_source: "custom",
      vocab_size: 512,
      dim: 64,
      n_layers: 2,
      n_heads: 4,
      n_kv_heads: 2,
      max_seq_len: 32,
    },
    iter: 2000,
    bestValLoss: 2.25,
    rngState: { train: rng.state(), val: (rng.nextU32(), rng.state()) },
    params: flat(config, 1),
    adamM: flat(config, -7),
    adamV: flat(config, 100),
  };
}

/** Parses a safetensors header by hand (independent of src/io/safetensors.ts). */
function header(
  bytes: Uint8Array,
): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("saveCheckpoint/loadCheckpoint round-trip every field, tied and untied", async () => {
  for (const shared of [true, false]) {
    await withDir(async (dir) => {
      const s = state(shared);
      await saveCheckpoint(join(dir, "out"), s);
      const got = await loadCheckpoint(join(dir, "out"));
      assert.deepEqual(got.config, s.config);
      assert.deepEqual(got.trainConfig, s.trainConfig);
      assert.equal(got.iter, 2000);
      assert.equal(got.bestValLoss, 2.25);
      assert.deepEqual(got.rngState, s.rngState);
      assert.deepEqual(got.params, s.params);
      assert.deepEqual(got.adamM, s.adamM);
      assert.deepEqual(got.adamV, s.adamV);
      const names = [...Deno.readDirSync(join(dir, "out"))].map((e) => e.name).sort();
      assert.deepEqual(names, ["ckpt.json", "ckpt.safetensors", "model.bin"]); // no temp files
      // model.bin is llama2.c v0 with the same parameters.
      const bin = await readLlama2cFile(join(dir, "out", "model.bin"));
      assert.equal(bin.version, 0);
      assert.equal(bin.config.shared_classifier, shared);
      assert.deepEqual(bin.params, s.params);
    });
  }
});

Deno.test("ckpt.safetensors has per-layer llama2.c names, unpadded F32 data", async () => {
  await withDir(async (dir) => {
    const s = state(false);
    await saveCheckpoint(dir, s, { modelBin: false });
    const bytes = await Deno.readFile(join(dir, CHECKPOINT_FILES.tensors));
    const h = header(bytes);
    const C = 64, KV = 32, H = s.config.hidden_dim, V = 512;
    const want: Record<string, number[]> = {
      tok_embeddings: [V, C],
      rms_final: [C],
      wcls: [V, C],
    };
    for (let l = 0; l < 2; l++) {
      Object.assign(want, {
        [`layers.${l}.rms_att`]: [C],
        [`layers.${l}.wq`]: [C, C],
        [`layers.${l}.wk`]: [KV, C],
        [`layers.${l}.wv`]: [KV, C],
        [`layers.${l}.wo`]: [C, C],
        [`layers.${l}.rms_ffn`]: [C],
        [`layers.${l}.w1`]: [H, C],
        [`layers.${l}.w2`]: [C, H],
        [`layers.${l}.w3`]: [H, C],
      });
    }
    const names = Object.keys(h).filter((k) => k !== "__metadata__").sort();
    const wantNames = ["model", "adam_m", "adam_v"].flatMap((p) =>
      Object.keys(want).map((k) => `${p}.${k}`)
    ).sort();
    assert.deepEqual(names, wantNames);
    let total = 0;
    for (const name of names) {
      const t = h[name], shape = want[name.slice(name.indexOf(".") + 1)];
      assert.equal(t.dtype, "F32");
      assert.deepEqual(t.shape, shape);
      const n = shape.reduce((a, b) => a * b, 1);
      assert.equal(t.data_offsets[1] - t.data_offsets[0], 4 * n);
      total += n;
    }
    assert.equal(total, 3 * tensorTable(s.config).numParams); // no padding stored
    // Spot-check values: layer 1 of wk in the params group.
    const e = tensorTable(s.config).byName.get("wk")!;
    const t = h["model.layers.1.wk"],
      n = Number(
        new DataView(bytes.buffer).getBigUint64(0, true),
      );
    const data = new Float32Array(
      bytes.slice(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]).buffer,
    );
    const off = e.offset + e.layerStride;
    assert.deepEqual(data, s.params.slice(off, off + e.layerNumel));
    const json = JSON.parse(await Deno.readTextFile(join(dir, CHECKPOINT_FILES.json)));
    assert.equal(json.version, 1);
    assert.equal(json.tensors.bytes, bytes.length);
    assert.match(json.tensors.sha256, /^[0-9a-f]{64}$/);
  });
});

Deno.test("loadCheckpoint rejects torn, tampered and malformed checkpoints in one line", async () => {
  await withDir(async (dir) => {
    const oneLine = async (re: RegExp, type: ErrorConstructor = SyntaxError) => {
      // The trainer's call: the saved settings are checked by train/'s validator.
      await assert.rejects(
        loadCheckpoint(dir, { trainConfig: validateTrainConfig }),
        (e: Error) => {
          assert.ok(e instanceof type, `${e.name}: ${e.message}`);
          assert.match(e.message, re);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
    };
    await oneLine(/ckpt\.json does not exist.*--init-from scratch/, Error);
    const s = state();
    await saveCheckpoint(dir, { ...s, iter: 1000 });
    const oldJson = await Deno.readTextFile(join(dir, "ckpt.json"));
    await saveCheckpoint(dir, { ...s, bestValLoss: Infinity });
    const good = await Deno.readTextFile(join(dir, "ckpt.json"));
    assert.equal((await loadCheckpoint(dir)).bestValLoss, Infinity);
    // A save interrupted between the two renames: new tensors, old json.
    await Deno.writeTextFile(join(dir, "ckpt.json"), oldJson);
    await oneLine(/does not match ckpt\.json.*interrupted/);
    await Deno.writeTextFile(join(dir, "ckpt.json"), good);
    // A flipped byte in the tensors.
    const bytes = await Deno.readFile(join(dir, "ckpt.safetensors"));
    bytes[bytes.length - 3] ^= 1;
    await Deno.writeFile(join(dir, "ckpt.safetensors"), bytes);
    await oneLine(/does not match/);
    bytes[bytes.length - 3] ^= 1;
    await Deno.writeFile(join(dir, "ckpt.safetensors"), bytes);
    await loadCheckpoint(dir);
    const edit = async (f: (j: Record<string, unknown>) => void, re: RegExp) => {
      const j = JSON.parse(good);
      f(j);
      await Deno.writeTextFile(join(dir, "ckpt.json"), JSON.stringify(j));
      await oneLine(re);
    };
    await edit((j) => (j.version = 2), /format version 2/);
    await edit((j) => (j.format = "x"), /not a babyllama-checkpoint/);
    await edit((j) => ((j.model_config as { dim: number }).dim = 96), /missing|expected F32/);
    await edit((j) => ((j.model_config as { n_heads: number }).n_heads = 5), /model_config/);
    await edit((j) => ((j.train_config as { batch_size: number }).batch_size = 0), /batch_size/);
    await edit((j) => ((j.rng_state as { train: number[] }).train = [0, 0, 0, 0]), /rng_state/);
    await edit((j) => (j.iter = -1), /iter/);
    await Deno.writeTextFile(join(dir, "ckpt.json"), "{");
    await oneLine(/not valid JSON/);
    await Deno.writeTextFile(join(dir, "ckpt.json"), good);
    await Deno.remove(join(dir, "ckpt.safetensors"));
    await oneLine(/ckpt\.safetensors is missing/);
  });
});

Deno.test("saveCheckpoint checks array sizes", async () => {
  await withDir(async (dir) => {
    const s = state();
    await assert.rejects(
      saveCheckpoint(dir, { ...s, adamV: new Float32Array(3) }),
      /adamV must be a Float32Array/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
