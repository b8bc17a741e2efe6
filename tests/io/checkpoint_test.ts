import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECKPOINT_FILES,
  type CheckpointState,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/io/checkpoint.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { resumedTrainConfig, type TrainConfig } from "../../src/train/config.ts";
import { REPO_ROOT } from "../helpers/data.ts";
import { checkpointState } from "../helpers/ckpt_state.ts";
import { afterFileOps } from "../helpers/crash_ops.ts";

function state(shared = true): CheckpointState<TrainConfig> {
  return checkpointState(1, 2000, { shared });
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
      assert.equal(got.bestValLoss, s.bestValLoss);
      assert.deepEqual(got.rngState, s.rngState);
      assert.deepEqual(got.params, s.params);
      assert.deepEqual(got.adamM, s.adamM);
      assert.deepEqual(got.adamV, s.adamV);
      const names = [...Deno.readDirSync(join(dir, "out"))].map((e) => e.name).sort();
      // generation 1, no temp files
      assert.deepEqual(names, ["ckpt-000001.safetensors", "ckpt.json", "model.bin"]);
      assert.equal(got.tensorsFile, "ckpt-000001.safetensors");
      assert.equal(got.generation, 1);
      // model.bin is llama2.c v0 with the same parameters.
      const bin = await readLlama2cFile(join(dir, "out", "model.bin"));
      assert.equal(bin.version, 0);
      assert.equal(bin.config.shared_classifier, shared);
      assert.deepEqual(bin.params, s.params);
    });
  }
});

Deno.test("ckpt-N.safetensors has per-layer llama2.c names, unpadded F32 data", async () => {
  await withDir(async (dir) => {
    const s = state(false);
    const { tensorsFile } = await saveCheckpoint(dir, s, { modelBin: false });
    const bytes = await Deno.readFile(join(dir, tensorsFile));
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
    assert.equal(json.tensors.file, "ckpt-000001.safetensors");
    assert.match(json.tensors.sha256, /^[0-9a-f]{64}$/);
  });
});

Deno.test("loadCheckpoint rejects torn, tampered and malformed checkpoints in one line", async () => {
  await withDir(async (dir) => {
    const oneLine = async (re: RegExp, type: ErrorConstructor = SyntaxError) => {
      // The trainer's call: the saved settings are checked by train/'s validator.
      await assert.rejects(
        loadCheckpoint(dir, { trainConfig: resumedTrainConfig }),
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
    const oldTensors = await Deno.readFile(join(dir, "ckpt-000001.safetensors"));
    assert.deepEqual((await saveCheckpoint(dir, { ...s, bestValLoss: Infinity })).removed, [
      "ckpt-000001.safetensors",
    ]);
    const good = await Deno.readTextFile(join(dir, "ckpt.json"));
    assert.equal((await loadCheckpoint(dir)).bestValLoss, Infinity);
    // An old ckpt.json whose tensors are gone, then one with another generation's tensors.
    await Deno.writeTextFile(join(dir, "ckpt.json"), oldJson);
    await oneLine(/ckpt-000001\.safetensors is missing/);
    await Deno.copyFile(join(dir, "ckpt-000002.safetensors"), join(dir, "ckpt-000001.safetensors"));
    await oneLine(/ckpt-000001\.safetensors \(\d+ bytes\) does not match ckpt\.json/);
    await Deno.writeFile(join(dir, "ckpt-000001.safetensors"), oldTensors);
    assert.equal((await loadCheckpoint(dir)).iter, 1000);
    await Deno.writeTextFile(join(dir, "ckpt.json"), good);
    // A flipped byte in the tensors.
    const bytes = await Deno.readFile(join(dir, "ckpt-000002.safetensors"));
    bytes[bytes.length - 3] ^= 1;
    await Deno.writeFile(join(dir, "ckpt-000002.safetensors"), bytes);
    await oneLine(/does not match/);
    bytes[bytes.length - 3] ^= 1;
    await Deno.writeFile(join(dir, "ckpt-000002.safetensors"), bytes);
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
    await edit(
      (j) => ((j.tensors as { file: string }).file = "../ckpt-000002.safetensors"),
      /does not describe/,
    );
    await Deno.writeTextFile(join(dir, "ckpt.json"), "{");
    await oneLine(/not valid JSON/);
    await Deno.writeTextFile(join(dir, "ckpt.json"), good);
    await Deno.remove(join(dir, "ckpt-000002.safetensors"));
    await oneLine(/ckpt-000002\.safetensors is missing/);
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

const LEGACY = join(REPO_ROOT, "tests", "fixtures", "ckpt_legacy");

/** Copies a directory's files (flat) into a new temp dir. */
async function copyDir(src: string | null): Promise<string> {
  const dst = await Deno.makeTempDir({ prefix: "babyllama_ckpt_" });
  if (src) {
    for (const e of Deno.readDirSync(src)) {
      await Deno.copyFile(join(src, e.name), join(dst, e.name));
    }
  }
  return dst;
}

/** Asserts that `dir` resumes to exactly `a` or exactly `b`; returns which (0 or 1). */
async function resumesToOneOf(
  dir: string,
  a: CheckpointState<TrainConfig>,
  b: CheckpointState<TrainConfig>,
  what: string,
) {
  const got = await loadCheckpoint(dir);
  const which = got.iter === a.iter ? 0 : 1;
  const want = [a, b][which];
  assert.equal(got.iter, want.iter, what);
  assert.equal(got.bestValLoss, want.bestValLoss, what);
  assert.deepEqual(got.config, want.config, what);
  assert.deepEqual(got.rngState, want.rngState, what);
  assert.deepEqual(got.params, want.params, what);
  assert.deepEqual(got.adamM, want.adamM, what);
  assert.deepEqual(got.adamV, want.adamV, what);
  // model.bin is whole and holds one of the two models, never a torn or mixed file
  const bin = await readLlama2cFile(join(dir, "model.bin"));
  assert.ok(
    [a, b].some((s) =>
      JSON.stringify(s.config) === JSON.stringify(bin.config) &&
      bin.params.every((v, i) => v === s.params[i])
    ),
    `${what}: model.bin holds neither model`,
  );
  return which;
}

/** One tensors file, ckpt.json and model.bin: nothing left over from an interrupted save. */
function assertClean(dir: string, what: string): void {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  const rest = names.filter((n) => n !== "ckpt.json" && n !== "model.bin");
  assert.equal(names.length, 3, `${what}: ${names}`);
  assert.match(rest[0], /^ckpt.*\.safetensors$/, `${what}: ${names}`);
}

/** The previous checkpoint of each scenario: a generation-1 out dir, and the legacy fixture. */
const SCENARIOS = [
  { name: "generation 1", tiny: false, setup: null as string | null },
  { name: "legacy ckpt.safetensors + ckpt.json (as main wrote them)", tiny: true, setup: LEGACY },
];

async function prepare(sc: (typeof SCENARIOS)[number]): Promise<string> {
  const dir = await copyDir(sc.setup);
  if (!sc.setup) await saveCheckpoint(dir, checkpointState(1, 1000));
  return dir;
}

Deno.test("out dirs written before generations (ckpt.safetensors + ckpt.json) still load", async () => {
  const want = checkpointState(1, 1000, { tiny: true });
  // as the trainer resumes it
  const got = await loadCheckpoint(LEGACY, { trainConfig: resumedTrainConfig });
  assert.equal(got.tensorsFile, "ckpt.safetensors");
  assert.equal(got.generation, 0);
  assert.equal(got.iter, 1000);
  assert.deepEqual(got.params, want.params);
  assert.deepEqual(got.adamV, want.adamV);
  assert.equal(got.trainConfig.on_nan, "stop", "a setting added later takes its default");
});

Deno.test("a save that fails after any file operation leaves the old or the new checkpoint whole", async () => {
  for (const sc of SCENARIOS) {
    const old = sc.setup ? checkpointState(1, 1000, { tiny: true }) : checkpointState(1, 1000);
    const next = checkpointState(2, 2000, { tiny: sc.tiny });
    // the file operations of one save
    const ops: string[] = [];
    const probe = await prepare(sc);
    const restore = afterFileOps((op) => void ops.push(op));
    try {
      await saveCheckpoint(probe, next);
    } finally {
      restore();
    }
    await Deno.remove(probe, { recursive: true });
    assert.ok(ops.length >= 8, ops.join(", "));
    const switched = ops.findIndex((op) => op.endsWith("-> ckpt.json"));
    for (let k = 0; k < ops.length; k++) {
      const dir = await prepare(sc);
      try {
        let i = 0;
        const restore = afterFileOps(() => {
          if (i++ === k) throw new Error("injected");
        });
        let failed = false;
        try {
          await saveCheckpoint(dir, next);
        } catch (e) {
          assert.match((e as Error).message, /injected/);
          failed = true;
        } finally {
          restore();
        }
        // (a failed directory fsync is ignored: the save goes on)
        const what = `${sc.name}: failure after "${ops[k]}"`;
        const which = await resumesToOneOf(dir, old, next, what);
        assert.equal(which, failed && k < switched ? 0 : 1, `${what}: resumed the wrong one`);
        // the next save completes and cleans up whatever the failed one left
        await saveCheckpoint(dir, checkpointState(3, 3000));
        assertClean(dir, what);
        assert.equal((await loadCheckpoint(dir)).iter, 3000, what);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    const shown = ops.map((op) => op.replace(/\.\d+\.[0-9a-f]{8}\.tmp/, ".tmp"));
    console.log(`  ${sc.name}: ${ops.length} failure points: ${shown.join(" | ")}`);
  }
});

Deno.test("a save killed with SIGKILL after any file operation leaves a resumable checkpoint", async () => {
  const helper = join(REPO_ROOT, "tests", "helpers", "ckpt_crash.ts");
  for (const sc of SCENARIOS) {
    const old = sc.setup ? checkpointState(1, 1000, { tiny: true }) : checkpointState(1, 1000);
    const next = checkpointState(2, 2000, { tiny: sc.tiny });
    const seen = [0, 0];
    const dirs: string[] = [];
    try {
      for (let k = 0;; k++) {
        const dir = await prepare(sc);
        dirs.push(dir);
        const r = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", helper, dir, String(k), sc.tiny ? "tiny" : ""],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const done = new TextDecoder().decode(r.stdout).includes("save completed");
        if (!done) assert.equal(r.signal, "SIGKILL", new TextDecoder().decode(r.stderr));
        seen[
          await resumesToOneOf(dir, old, next, `${sc.name}: SIGKILL after file operation ${k}`)
        ]++;
        if (done) break;
      }
      // a later save removes the dead processes' temporary and orphan files
      for (const [k, dir] of dirs.entries()) {
        await saveCheckpoint(dir, checkpointState(3, 3000));
        assertClean(dir, `${sc.name}: save after SIGKILL after file operation ${k}`);
      }
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
    assert.ok(seen[0] > 0 && seen[1] > 0, `${sc.name}: resumed old ${seen[0]}, new ${seen[1]}`);
    console.log(
      `  ${sc.name}: killed at ${dirs.length - 1} points: resumed the old ${seen[0]} times, ` +
        `the new ${seen[1] - 1} (and once after the completed save)`,
    );
  }
});

Deno.test("saveCheckpoint refuses non-finite weights and leaves the previous checkpoint", async () => {
  await withDir(async (dir) => {
    const s = state();
    await saveCheckpoint(dir, s);
    const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    const bad = { ...s, iter: 2100, params: s.params.slice() };
    const e = tensorTable(s.config).byName.get("w2")!;
    bad.params[e.offset + e.layerStride + 7] = NaN;
    await assert.rejects(
      saveCheckpoint(dir, bad),
      /^RangeError: Cannot save checkpoint at iter 2100: tensor model\.layers\.1\.w2 holds NaN at element 7/,
    );
    const inf = { ...s, adamV: s.adamV.slice() };
    inf.adamV[0] = Infinity;
    await assert.rejects(saveCheckpoint(dir, inf), /tensor adam_v\.tok_embeddings holds Infinity/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before);
    assert.equal((await loadCheckpoint(dir)).iter, s.iter);
  });
});

Deno.test("loadCheckpoint refuses a checkpoint holding NaN, naming the tensor", async () => {
  await withDir(async (dir) => {
    const s = state();
    const { tensorsFile } = await saveCheckpoint(dir, s);
    // write NaN into model.layers.0.wq through the file, fixing up the recorded hash
    const bytes = await Deno.readFile(join(dir, tensorsFile));
    const h = header(bytes);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const at = 8 + n + h["model.layers.0.wq"].data_offsets[0] + 4 * 5;
    new DataView(bytes.buffer).setFloat32(at, NaN, true);
    await Deno.writeFile(join(dir, tensorsFile), bytes);
    const j = JSON.parse(await Deno.readTextFile(join(dir, "ckpt.json")));
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    j.tensors.sha256 = Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(join(dir, "ckpt.json"), JSON.stringify(j));
    await assert.rejects(
      loadCheckpoint(dir),
      /^SyntaxError: Cannot load checkpoint from .*: tensor model\.layers\.0\.wq holds NaN at element 5/,
    );
  });
});
