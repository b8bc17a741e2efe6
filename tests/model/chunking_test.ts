/**
 * The classifier's row chunks: sized from the device limits (all rows in one chunk when the
 * logits fit one binding, as on a GPU), and the chunked path (forced with a small binding cap)
 * gives the loss and every gradient of the one-chunk path, which model_test.ts checks against
 * PyTorch.
 */
import assert from "node:assert/strict";
import { acquireGpu } from "../../src/gpu/device.ts";
import { Model } from "../../src/model/model.ts";
import { classifierChunkRows } from "../../src/model/activations.ts";
import { modelConfig } from "../../src/model/config.ts";
import { initParams } from "../../src/model/init.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { assertClose, randn, testGpu } from "../helpers/gpu.ts";

Deno.test("classifierChunkRows: one chunk when the logits fit a binding, else multiples of 64", () => {
  assert.equal(classifierChunkRows(2 ** 32 - 1, 32000, 32 * 256), 32 * 256);
  assert.equal(classifierChunkRows(2 ** 31 - 1, 32000, 64 * 256), 64 * 256);
  assert.equal(classifierChunkRows(2 ** 27, 32000, 32 * 256), 1024);
  assert.equal(classifierChunkRows(2 ** 27, 32000, 1000), 1000);
  assert.equal(classifierChunkRows(2 ** 31, 32000, 128 * 256), 16768);
  // Never fewer than 64 rows.
  assert.equal(classifierChunkRows(1, 32000, 4096), 64);
});

Deno.test("a model needs no classifier chunks when its logits fit this device's binding", async () => {
  const gpu = await testGpu();
  const cfg = modelConfig({ dim: 48, n_layers: 1, n_heads: 6, vocab_size: 67, max_seq_len: 16 });
  using model = new Model(gpu, cfg, { B: 8, T: 16, training: false });
  assert.equal(model.chunkRows, 128);
});

Deno.test("chunked classifier (binding capped to 64 rows) matches the one-chunk loss and gradients", async () => {
  const cfg = modelConfig({
    dim: 48,
    n_layers: 2,
    n_heads: 6,
    n_kv_heads: 2,
    vocab_size: 67,
    max_seq_len: 16,
  });
  const B = 7, T = 15, N = B * T; // 105 rows: chunks of 64 and 41
  const x = Array.from(randn(N, 11), (v) => Math.floor((v + 1) * 33.5) % 67);
  const y = Array.from(randn(N, 12), (v, i) => i % 9 === 0 ? -1 : Math.floor((v + 1) * 33.5) % 67);
  const params = initParams(tensorTable(cfg), 5);
  const run = async (capBytes?: number) => {
    using gpu = await acquireGpu(
      capBytes ? { limits: { maxStorageBufferBindingSize: capBytes } } : {},
    );
    using model = new Model(gpu, cfg, { B, T, training: true });
    await model.check();
    model.setParams(params);
    model.setBatch(x, y);
    const enc = gpu.device.createCommandEncoder();
    enc.clearBuffer(model.grads!);
    model.trainPlan.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
    return { rows: model.chunkRows, loss: await model.readLoss(), grads: await model.readGrads() };
  };
  const whole = await run();
  const chunked = await run(64 * 67 * 4 + 100);
  assert.equal(whole.rows, N);
  assert.equal(chunked.rows, 64);
  console.log(`  loss ${whole.loss} one chunk, ${chunked.loss} in chunks of 64`);
  assert.ok(Math.abs(whole.loss - chunked.loss) <= 1e-6 * whole.loss);
  assertClose("grads", chunked.grads, whole.grads, { atol: 1e-6, rtol: 1e-4 });
});
