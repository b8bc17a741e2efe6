/**
 * Benchmarks the batch-B ops (attention, RoPE, cross-entropy, loss mean, global norm, AdamW) at
 * the 15M model's shapes: B=8, T=256, NH=6, NKV=6, HS=48; cross-entropy R=256, V=32000; AdamW
 * over 15M floats. Each op is recorded REPS times into one plan and submitted once, so the
 * ~11 ms CPU<->GPU synchronisation is paid once and divided out; the best of TRIALS submits is
 * printed (the machine is shared, so the minimum is the stable number).
 *
 * Usage: `XDG_RUNTIME_DIR=/tmp deno run -A tools/bench_ops_b.ts [--reps=3] [--trials=3]
 * [--only=attention]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { acquireGpu } from "../src/gpu/device.ts";
import { BufferPool } from "../src/gpu/buffers.ts";
import { Plan } from "../src/gpu/plan.ts";
import { attentionBackward, attentionForward } from "../src/ops/attention.ts";
import { ropeBackward, ropeForward } from "../src/ops/rope.ts";
import { ropeFreqs } from "../src/model/rope_freqs.ts";
import { crossentropyBackward, crossentropyForward, lossMean } from "../src/ops/crossentropy.ts";
import { adamwUpdate, globalNorm, partialsLength } from "../src/ops/adamw.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "3" },
    trials: { type: "string", default: "3" },
    only: { type: "string", default: "" },
  },
});
const REPS = Number(args.values.reps);
const TRIALS = Number(args.values.trials);
const ONLY = args.values.only ?? "";

using gpu = await acquireGpu({ verbose: true });
using pool = new BufferPool(gpu);

function rand(label: string, n: number, scale = 1): GPUBuffer {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return pool.upload(label, a);
}

async function time(name: string, record: (plan: Plan) => void): Promise<void> {
  if (ONLY && !name.startsWith(ONLY)) return;
  using warm = new Plan(gpu, name);
  record(warm);
  await warm.check();
  warm.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  using plan = new Plan(gpu, name);
  for (let i = 0; i < REPS; i++) record(plan);
  await plan.check();
  let ms = Infinity;
  for (let trial = 0; trial < TRIALS; trial++) {
    const t0 = performance.now();
    plan.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    ms = Math.min(ms, (performance.now() - t0) / REPS);
  }
  console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(9)} ms`);
}

const B = 8, T = 256, NH = 6, NKV = 6, HS = 48;
{
  const s = { B, T, NH, NKV, HS };
  const nq = B * T * NH * HS, nk = B * T * NKV * HS, nr = B * NH * T;
  const q = rand("q", nq), k = rand("k", nk), v = rand("v", nk), dout = rand("dout", nq);
  const out = pool.create("out", nq * 4), lse = pool.create("lse", nr * 4);
  const dq = pool.create("dq", nq * 4), dk = pool.create("dk", nk * 4);
  const dv = pool.create("dv", nk * 4), scratch = pool.create("scratch", nr * 4);
  const tag = `B=${B} T=${T} NH=${NH} NKV=${NKV} HS=${HS}`;
  await time(`attentionForward ${tag}`, (p) => attentionForward(p, { out, lse, q, k, v }, s));
  await time(
    `attentionBackward ${tag}`,
    (p) => attentionBackward(p, { dq, dk, dv, dout, q, k, v, out, lse, scratch }, s),
  );
}
{
  const n = B * T * NH * HS, tag = `B=${B} T=${T} NH=${NH} HS=${HS}`, s = { B, T, NH, HS };
  const { cos, sin } = ropeFreqs(HS, T);
  const freqs_cos = pool.upload("cos", cos), freqs_sin = pool.upload("sin", sin);
  const inp = rand("inp", n), out = pool.create("out", n * 4);
  await time(`ropeForward ${tag}`, (p) => ropeForward(p, { out, inp, freqs_cos, freqs_sin }, s));
  await time(
    `ropeBackward ${tag}`,
    (p) => ropeBackward(p, { dinp: out, dout: inp, freqs_cos, freqs_sin }, s),
  );
}
{
  const R = 256, V = 32000, tag = `R=${R} V=${V}`;
  const logits = rand("logits", R * V, 5);
  const targets = pool.upload(
    "targets",
    Int32Array.from({ length: R }, (_, i) => (i * 7919) % V),
  );
  const losses = pool.create("losses", R * 4), lse = pool.create("lse", R * 4);
  const dloss = pool.upload("dloss", Float32Array.of(1 / R));
  await time(
    `crossentropyForward ${tag}`,
    (p) => crossentropyForward(p, { losses, lse, logits, targets }, { R, V }),
  );
  // In place: repeated runs operate on gradients, which costs the same.
  await time(
    `crossentropyBackward ${tag}`,
    (p) => crossentropyBackward(p, { logits, lse, targets, dloss }, { R, V }),
  );
  const loss = pool.create("loss", 4), big = rand("big", 2048);
  await time(
    `lossMean N=2048`,
    (p) => lossMean(p, { loss, losses: big, scale: dloss }, { N: 2048 }),
  );
}
{
  const N = 15_000_000, tag = `N=${N}`;
  const grads = rand("grads", N, 0.01), params = rand("params", N, 0.1);
  const m = pool.create("m", N * 4), v = pool.create("v", N * 4);
  const gnorm = pool.create("gnorm", 8), partials = pool.create("partials", partialsLength(N) * 4);
  const hyper = pool.upload("hyper", Float32Array.of(1e-3, 0.9, 0.95, 1e-8, 0.1, 0.05));
  await time(
    `globalNorm ${tag}`,
    (p) => globalNorm(p, { out: gnorm, partials, grads }, { N, clip: 1 }),
  );
  await time(
    `adamwUpdate ${tag} (one dispatch)`,
    (p) => adamwUpdate(p, { params, grads, m, v, hyper, gnorm }, { N, weight_decay: 0.1 }),
  );
}
