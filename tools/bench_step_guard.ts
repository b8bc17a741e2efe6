/**
 * The cost of the NaN step guard: a training step (forward + backward + clip + AdamW, one submit)
 * of a tiny model with the guard recorded against the same step without it, in the same process,
 * in alternating blocks (so machine load hits both alike). The guard adds one one-invocation
 * dispatch per step and a sign test in the AdamW kernels; the trainer reads its 48-byte status in
 * place of the 4-byte loss at log steps, so the number of GPU->CPU synchronisations is unchanged.
 *
 * usage: deno run -A tools/bench_step_guard.ts [--steps 40] [--blocks 6] [--dim 64] [--vocab 512]
 *
 * Prints one JSON line per variant pair: the fastest block's wall ms per step and the median CPU
 * ms per step (this process, llvmpipe's threads included: steadier than wall time on a shared
 * machine), and their ratios.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import { Model } from "../src/model/model.ts";
import { modelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { AdamW } from "../src/train/optimizer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "40" },
    blocks: { type: "string", default: "6" },
    dim: { type: "string", default: "64" },
    vocab: { type: "string", default: "512" },
  },
});
const steps = Number(values.steps), blocks = Number(values.blocks);
const config = modelConfig({
  dim: Number(values.dim),
  n_layers: 2,
  n_heads: 4,
  n_kv_heads: 2,
  vocab_size: Number(values.vocab),
  max_seq_len: 64,
});
const B = 4, T = 64;

using gpu = await acquireGpu();
using model = new Model(gpu, config, { B, T, training: true });
await model.check();
model.setParams(initParams(model.table, 1));
const hyper = { weight_decay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, grad_clip: 1 };
using plain = new AdamW(gpu, model.table, model.params, model.grads!, hyper);
using guarded = new AdamW(gpu, model.table, model.params, model.grads!, hyper, {
  loss: model.loss,
});
await plain.plan.check();
await guarded.plan.check();
const x = Uint32Array.from({ length: B * T }, (_, i) => (i * 7919) % config.vocab_size);
const y = Int32Array.from({ length: B * T }, (_, i) => (i * 104729 + 1) % config.vocab_size);
model.setBatch(x, y);

/** Runs `n` steps; returns [wall ms, CPU ms] per step. */
async function run(opt: AdamW, n: number): Promise<[number, number]> {
  const c0 = process.cpuUsage(), t0 = performance.now();
  for (let s = 0; s < n; s++) {
    opt.prepare(1e-4, s + 1);
    const enc = gpu.device.createCommandEncoder({ label: "bench_step" });
    enc.clearBuffer(model.grads!);
    model.trainPlan.encode(enc);
    opt.plan.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
  }
  await gpu.device.queue.onSubmittedWorkDone();
  const c = process.cpuUsage(c0);
  return [(performance.now() - t0) / n, (c.user + c.system) / 1000 / n];
}

await run(plain, 3);
await run(guarded, 3);
const a: [number, number][] = [], b: [number, number][] = [];
for (let k = 0; k < blocks; k++) {
  a.push(await run(plain, steps));
  b.push(await run(guarded, steps));
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
const min = (v: number[]) => Math.min(...v);
const r2 = (v: number) => Number(v.toFixed(2));
const wallA = min(a.map((v) => v[0])), wallB = min(b.map((v) => v[0]));
const cpuA = median(a.map((v) => v[1])), cpuB = median(b.map((v) => v[1]));
console.log(JSON.stringify({
  adapter: gpu.description,
  model: `dim ${config.dim}, 2 layers, vocab ${config.vocab_size}, B ${B} x T ${T}`,
  steps_per_block: steps,
  blocks,
  best_wall_ms_without_guard: r2(wallA),
  best_wall_ms_with_guard: r2(wallB),
  wall_ratio: Number((wallB / wallA).toFixed(4)),
  median_cpu_ms_without_guard: r2(cpuA),
  median_cpu_ms_with_guard: r2(cpuB),
  cpu_ratio: Number((cpuB / cpuA).toFixed(4)),
}));
