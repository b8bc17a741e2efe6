/**
 * The whole GPU model against PyTorch fixtures made by tools/make_model_fixtures.py (see its
 * docstring): loss to 1e-5 relative, logits, every gradient to 1e-3 (max abs difference over max
 * abs value), and the losses of 5 AdamW steps with clipping.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { Model } from "../../src/model/model.ts";
import { type ModelConfig, modelConfig } from "../../src/model/config.ts";
import { type TensorEntry, type TensorTable, tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { AdamW } from "../../src/train/optimizer.ts";
import {
  readSafetensorsFile,
  type SafetensorsFile,
  tensorF32,
  tensorI32,
} from "../../src/io/safetensors.ts";
import { readF32 } from "../../src/gpu/buffers.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { testGpu } from "../helpers/gpu.ts";
import { ATTENTION_FORWARD } from "../../src/ops/attention.ts";

const FIX = (name: string) => fromFileUrl(new URL(`../fixtures/${name}`, import.meta.url));

async function load(
  name: string,
): Promise<{ f: SafetensorsFile; cfg: ModelConfig; B: number; T: number; seed: number }> {
  const f = await readSafetensorsFile(FIX(name));
  const raw = JSON.parse(f.metadata.config);
  const cfg = modelConfig(raw);
  return {
    f,
    cfg,
    B: Number(f.metadata.B),
    T: Number(f.metadata.T),
    seed: Number(f.metadata.seed),
  };
}

function tensor(f: SafetensorsFile, name: string): Float32Array {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`fixture has no tensor ${name}`);
  return tensorF32(t);
}

/** Copies a stacked [L, ...] tensor into the flat padded layout. */
function stackedToFlat(e: TensorEntry, src: Float32Array, dst: Float32Array): void {
  for (let l = 0; l < e.layers; l++) {
    dst.set(src.subarray(l * e.layerNumel, (l + 1) * e.layerNumel), e.offset + l * e.layerStride);
  }
}

/** Extracts tensor e from a flat padded buffer as stacked [L, ...]. */
function flatToStacked(e: TensorEntry, flat: Float32Array): Float32Array {
  const out = new Float32Array(e.numel);
  for (let l = 0; l < e.layers; l++) {
    out.set(
      flat.subarray(e.offset + l * e.layerStride, e.offset + l * e.layerStride + e.layerNumel),
      l * e.layerNumel,
    );
  }
  return out;
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxDiff = 0, maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  return maxAbs > 0 ? maxDiff / maxAbs : maxDiff;
}

function batchFrom(f: SafetensorsFile): { x: Int32Array; y: Int32Array } {
  return { x: tensorI32(f.tensors.get("tokens")!), y: tensorI32(f.tensors.get("targets")!) };
}

/** Runs 5 AdamW steps on the same batch as the fixture; returns losses and pre-clip norms. */
async function adamwRun(
  gpu: Gpu,
  model: Model,
  table: TensorTable,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
) {
  using opt = new AdamW(gpu, table, model.params, model.grads!, {
    weight_decay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    grad_clip: 1,
  });
  await opt.plan.check();
  model.setBatch(x, y);
  const losses: number[] = [], norms: number[] = [];
  for (let k = 0; k < 5; k++) {
    const enc = gpu.device.createCommandEncoder();
    enc.clearBuffer(model.grads!);
    model.trainPlan.encode(enc);
    opt.prepare(1e-3, k + 1);
    opt.plan.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
    losses.push(await model.readLoss());
    norms.push(await opt.readGradNorm());
  }
  model.forwardPlan.submit();
  losses.push(await model.readLoss());
  return { losses, norms };
}

for (const fuse of [true, false]) {
  Deno.test(`tiny GQA model${fuse ? "" : " (unfused)"}: loss, logits, every gradient and 5 AdamW steps match PyTorch`, async () => {
    const gpu = await testGpu();
    const { f, cfg, B, T } = await load("model_tiny.safetensors");
    const table = tensorTable(cfg);
    const params = new Float32Array(table.size);
    for (const e of table.entries) stackedToFlat(e, tensor(f, `param.${e.name}`), params);
    using model = new Model(gpu, cfg, { B, T, training: true, fuse });
    assert.deepEqual(model.fusion, { qkv: fuse, w13: fuse, residualNorm: fuse, lossMean: fuse });
    await model.check();
    model.setParams(params);
    const { x, y } = batchFrom(f);
    model.setBatch(x, y);
    model.forwardPlan.submit();
    const loss = await model.readLoss();
    const wantLoss = tensor(f, "loss")[0];
    const logits = await readF32(gpu, model.logits, 0, B * T * cfg.vocab_size);
    const logitsErr = relErr(logits, tensor(f, "logits"));
    console.log(
      `  loss ${loss} vs torch ${wantLoss} (rel ${
        (Math.abs(loss - wantLoss) / wantLoss).toExponential(2)
      }); logits rel ${logitsErr.toExponential(2)}`,
    );
    assert.ok(Math.abs(loss - wantLoss) / wantLoss < 1e-5, `loss ${loss} vs ${wantLoss}`);
    assert.ok(logitsErr < 1e-5, `logits rel error ${logitsErr}`);

    const enc = gpu.device.createCommandEncoder();
    enc.clearBuffer(model.grads!);
    model.trainPlan.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
    assert.ok(Math.abs((await model.readLoss()) - wantLoss) / wantLoss < 1e-5);
    const grads = await model.readGrads();
    let worst = 0;
    for (const e of table.entries) {
      const err = relErr(flatToStacked(e, grads), tensor(f, `grad.${e.name}`));
      worst = Math.max(worst, err);
      assert.ok(err < 1e-3, `grad ${e.name}: rel error ${err}`);
    }
    console.log(`  worst gradient rel error ${worst.toExponential(2)}`);

    const want = tensor(f, "adamw_losses"), wantNorms = tensor(f, "adamw_grad_norms");
    const { losses, norms } = await adamwRun(gpu, model, table, x, y);
    console.log(`  adamw losses ${losses.map((l) => l.toFixed(6)).join(" ")}`);
    console.log(`  torch        ${Array.from(want, (l) => l.toFixed(6)).join(" ")}`);
    for (let k = 0; k < 6; k++) {
      assert.ok(
        Math.abs(losses[k] - want[k]) / want[k] < 1e-5,
        `adamw loss ${k}: ${losses[k]} vs ${want[k]}`,
      );
    }
    for (let k = 0; k < 5; k++) {
      assert.ok(
        Math.abs(norms[k] - wantNorms[k]) / wantNorms[k] < 1e-4,
        `grad norm ${k}: ${norms[k]} vs ${wantNorms[k]}`,
      );
    }
    const after = await model.readParams();
    for (const e of table.entries) {
      const err = relErr(flatToStacked(e, after), tensor(f, `param_after_adamw.${e.name}`));
      assert.ok(err < 1e-4, `params after AdamW ${e.name}: rel error ${err}`);
    }
  });
}

Deno.test("15M model (288/6/6/32000) at 2x32: loss, logits, gradient norms and samples, AdamW losses match PyTorch", async () => {
  const gpu = await testGpu();
  const { f, cfg, B, T, seed } = await load("model_15m.safetensors");
  assert.deepEqual(cfg, modelConfig());
  const table = tensorTable(cfg);
  using model = new Model(gpu, cfg, { B, T, training: true });
  await model.check();
  model.setParams(initParams(table, seed));
  const { x, y } = batchFrom(f);
  model.setBatch(x, y);
  const enc = gpu.device.createCommandEncoder();
  enc.clearBuffer(model.grads!);
  model.trainPlan.encode(enc);
  gpu.device.queue.submit([enc.finish()]);
  const loss = await model.readLoss();
  const wantLoss = tensor(f, "loss")[0];
  console.log(
    `  loss ${loss} vs torch ${wantLoss} (rel ${
      (Math.abs(loss - wantLoss) / wantLoss).toExponential(2)
    })`,
  );
  assert.ok(Math.abs(loss - wantLoss) / wantLoss < 1e-5);
  const grads = await model.readGrads();
  let worstNorm = 0, worstSample = 0;
  for (const e of table.entries) {
    const g = flatToStacked(e, grads);
    let ss = 0;
    for (const v of g) ss += v * v;
    const wantNorm = tensor(f, `grad_norm.${e.name}`)[0];
    const normErr = Math.abs(Math.sqrt(ss) - wantNorm) / wantNorm;
    worstNorm = Math.max(worstNorm, normErr);
    assert.ok(normErr < 1e-3, `grad norm ${e.name}: ${Math.sqrt(ss)} vs ${wantNorm}`);
    const idx = tensorI32(f.tensors.get(`grad_idx.${e.name}`)!);
    const want = tensor(f, `grad_sample.${e.name}`);
    const got = Array.from(idx, (i) => g[i]);
    const err = relErr(got, want);
    worstSample = Math.max(worstSample, err);
    assert.ok(err < 1e-3, `grad samples ${e.name}: rel error ${err}`);
  }
  console.log(
    `  worst gradient-norm rel error ${worstNorm.toExponential(2)}, worst sample rel error ${
      worstSample.toExponential(2)
    }`,
  );

  model.forwardPlan.submit();
  await model.readLoss();
  const logits = await readF32(gpu, model.logits, 0, B * T * cfg.vocab_size);
  const rows = tensor(f, "logits_rows"), bt = tensorI32(f.tensors.get("logits_rows_bt")!);
  for (let r = 0; r < 2; r++) {
    const row = (bt[2 * r] * T + bt[2 * r + 1]) * cfg.vocab_size;
    const err = relErr(
      logits.subarray(row, row + cfg.vocab_size),
      rows.subarray(r * cfg.vocab_size, (r + 1) * cfg.vocab_size),
    );
    assert.ok(err < 1e-4, `logits row ${r}: rel error ${err}`);
  }
  const want = tensor(f, "adamw_losses");
  const { losses } = await adamwRun(gpu, model, table, x, y);
  console.log(`  adamw losses ${losses.map((l) => l.toFixed(6)).join(" ")}`);
  console.log(`  torch        ${Array.from(want, (l) => l.toFixed(6)).join(" ")}`);
  for (let k = 0; k < 6; k++) {
    assert.ok(
      Math.abs(losses[k] - want[k]) / want[k] < 1e-4,
      `adamw loss ${k}: ${losses[k]} vs ${want[k]}`,
    );
  }
});

Deno.test("Model.dispatches counts each plan's compute dispatches, not its clears (2 layers, dropout)", async () => {
  const gpu = await testGpu();
  const L = 2,
    cfg = modelConfig({ dim: 32, n_layers: L, n_heads: 4, vocab_size: 64, dropout: 0.1 });
  using model = new Model(gpu, cfg, { B: 2, T: 8, training: true, fuse: false });
  using eval_ = new Model(gpu, cfg, { B: 2, T: 8, training: false, fuse: false });
  // Unfused. Forward per block: 2 rmsnorm, 7 matmul, 2 rope, attention, 2 residual, swiglu (+ 2
  // dropout). Backward per block: 2 dropout, 7 matmul x (dinp, dweight), swiglu, attention x 2,
  // 2 rope, 2 rmsnorm x (dinp, dweight). Head (one chunk): classifier, cross-entropy, then their
  // backward (cross-entropy, dinp, dweight), loss mean.
  const forward = 1 + 15 * L + 1 + 2 + 1;
  const train = 2 + 17 * L + 1 + 5 + 1 + 2 + 25 * L + 2;
  assert.deepEqual(model.dispatches, { forward, train });
  // + the clear of dres, + where attention runs its tex_* kernels (CPU adapters with subgroups)
  // the copies of two operands into textures before each of its 3 dispatches per block.
  const att = { B: 2, T: 8, NH: 4, NKV: 4, HS: 8 };
  const copies = ATTENTION_FORWARD.fallback(gpu, att).startsWith("tex_") ? 6 * L : 0;
  assert.equal(model.trainPlan.length, train + 1 + copies);
  assert.deepEqual(eval_.dispatches, { forward, train: 0 });
  // Fused. Forward: the first block's rmsnorm, then per block 4 matmul, rope_qkv, attention,
  // 2 residual_rmsnorm (the second also the next block's or the final rmsnorm), swiglu (+ 2
  // dropout). Backward per block: 2 dropout, 4 matmul x (dinp, dweight), swiglu, attention x 2,
  // rope_qkv, 2 rmsnorm x (dinp, dweight). The training plan's cross-entropy backward also
  // writes the mean loss (no loss_mean).
  using fused = new Model(gpu, cfg, { B: 2, T: 8, training: true });
  using fusedEval = new Model(gpu, cfg, { B: 2, T: 8, training: false });
  const fForward = 1 + 1 + 9 * L + 2 + 1;
  const fTrain = 2 + 1 + 11 * L + 5 + 2 + 18 * L + 2;
  assert.deepEqual(fused.dispatches, { forward: fForward, train: fTrain });
  assert.deepEqual(fusedEval.dispatches, { forward: fForward, train: 0 });
});

// dim 20: wq's 400 floats are not a multiple of 64, so wk does not follow wq and q, k, v take
// three matmuls; w1|w3 (96 x 20 each) and the residual RMSNorms are still fused.
Deno.test("fused plans give the unfused forward's bits and its gradients to rounding (GQA 2, QKV not fusable at dim 20)", async () => {
  const gpu = await testGpu();
  for (
    const cfg of [
      modelConfig({ dim: 48, n_layers: 2, n_heads: 6, n_kv_heads: 3, vocab_size: 67 }),
      modelConfig({ dim: 20, n_layers: 2, n_heads: 2, n_kv_heads: 1, vocab_size: 30 }),
    ]
  ) {
    const shape = { B: 2, T: 5, training: true };
    using fused = new Model(gpu, cfg, shape);
    using plain = new Model(gpu, cfg, { ...shape, fuse: false });
    const qkv = cfg.dim === 48;
    assert.deepEqual(fused.fusion, { qkv, w13: true, residualNorm: true, lossMean: true });
    const x = Array.from({ length: 10 }, (_, i) => (i * 7 + 3) % cfg.vocab_size);
    const run = async (m: Model) => {
      await m.check();
      m.initParams(3);
      m.setBatch(x, x.map((v) => (v * 5 + 1) % cfg.vocab_size));
      const enc = gpu.device.createCommandEncoder();
      enc.clearBuffer(m.grads!);
      m.trainPlan.encode(enc);
      gpu.device.queue.submit([enc.finish()]);
      return { loss: await m.readLoss(), grads: await m.readGrads() };
    };
    const a = await run(fused), b = await run(plain);
    assert.equal(a.loss, b.loss, `dim ${cfg.dim}: the forward is the same arithmetic`);
    for (const e of fused.table.entries) {
      const err = relErr(flatToStacked(e, a.grads), flatToStacked(e, b.grads));
      assert.ok(err < 1e-5, `dim ${cfg.dim} grad ${e.name}: rel error ${err}`);
    }
  }
});
