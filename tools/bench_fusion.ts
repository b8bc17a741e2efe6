/**
 * Fused vs unfused in one process, alternately, with the adapter class's default kernel variants
 * (`--tune off`). Prints, per round and as medians and minima, wall-clock and CPU milliseconds
 * (the CPU time of this process, llvmpipe's threads included, is steadier than wall time on a
 * shared machine), and the ratio unfused / fused.
 *
 * - Default: training steps (forward + backward, one submit and one loss readback each) of the
 *   model built with the fused kernels (`ModelShape.fuse`, the default) and with one kernel per
 *   op (`fuse: false`, the graph before fusion), `--steps` of each per round; with the
 *   dispatches per step of both.
 * - `--matmuls`: the model's two fused matmul groups on their own: forward, dinp and dweight of
 *   one `[C + 2KV, C]` (resp. `[2H, C]`) weight against the same of wq, wk, wv (resp. w1, w3),
 *   N = B*T rows, `--steps` repetitions in one submit per round.
 *
 * usage: deno run -A tools/bench_fusion.ts [--matmuls] [--rounds 5] [--steps 1] [--dim 288]
 *          [--n-layers 6] [--n-heads 6] [--n-kv-heads 6] [--vocab-size 32000] [--batch-size 8]
 *          [--seq-len 256]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import { BufferPool } from "../src/gpu/buffers.ts";
import { Plan } from "../src/gpu/plan.ts";
import { tunerFor } from "../src/gpu/tune.ts";
import { kvDim, modelConfig } from "../src/model/config.ts";
import { Model } from "../src/model/model.ts";
import { matmulBackward, matmulForward } from "../src/ops/matmul.ts";
import { bitsAt } from "../src/util/rng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    matmuls: { type: "boolean", default: false },
    rounds: { type: "string", default: "5" },
    steps: { type: "string", default: "1" },
    dim: { type: "string", default: "288" },
    "n-layers": { type: "string", default: "6" },
    "n-heads": { type: "string", default: "6" },
    "n-kv-heads": { type: "string" },
    "vocab-size": { type: "string", default: "32000" },
    "batch-size": { type: "string", default: "8" },
    "seq-len": { type: "string", default: "256" },
  },
});
const B = Number(values["batch-size"]), T = Number(values["seq-len"]);
const steps = Number(values.steps), N = B * T;
const config = modelConfig({
  dim: Number(values.dim),
  n_layers: Number(values["n-layers"]),
  n_heads: Number(values["n-heads"]),
  n_kv_heads: Number(values["n-kv-heads"] ?? values["n-heads"]),
  vocab_size: Number(values["vocab-size"]),
  max_seq_len: T,
});
using gpu = await acquireGpu();
await tunerFor(gpu).configure({ mode: "off", log: () => {} });
console.log(`adapter: ${gpu.description}; load ${Deno.loadavg().join(" ")}`);

type Mode = "fused" | "unfused";
type Timing = { wall: number; cpu: number };

/** Times `run` (which does `per` units of work): wall and CPU ms per unit. */
async function time(run: () => Promise<void>, per: number): Promise<Timing> {
  const t0 = performance.now(), c0 = process.cpuUsage();
  await run();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / per, cpu: (c.user + c.system) / 1000 / per };
}

/** Alternates the two runs for `--rounds` rounds and prints the figures; `unit` names a unit. */
async function compare(label: string, runs: Record<Mode, () => Promise<void>>, unit: string) {
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const min = (a: number[]) => Math.min(...a);
  const res: Record<Mode, Timing[]> = { fused: [], unfused: [] };
  const modes: Mode[] = ["fused", "unfused"];
  for (let r = 0; r < Number(values.rounds); r++) {
    // Alternate which goes first, so that neither always follows the other.
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      const t = await time(runs[mode], steps);
      res[mode].push(t);
      console.log(
        `${label} round ${r + 1} ${mode.padEnd(7)}: ${t.wall.toFixed(1)} ms wall, ` +
          `${t.cpu.toFixed(1)} ms cpu per ${unit}; load ${Deno.loadavg()[0]}`,
      );
    }
  }
  for (const [stat, f] of [["median", median], ["min", min]] as const) {
    for (const mode of modes) {
      const w = f(res[mode].map((t) => t.wall)), c = f(res[mode].map((t) => t.cpu));
      console.log(
        `${label} ${stat.padEnd(6)} ${mode.padEnd(7)}: ${w.toFixed(1)} ms wall, ` +
          `${c.toFixed(1)} ms cpu per ${unit}` +
          (unit === "step" ? ` (${(N / (c / 1000)).toFixed(0)} tokens per cpu-s)` : ""),
      );
    }
    const ratio = (k: "wall" | "cpu") =>
      f(res.unfused.map((t) => t[k])) / f(res.fused.map((t) => t[k]));
    console.log(
      `${label} ${stat.padEnd(6)} unfused / fused: wall ${ratio("wall").toFixed(3)}, ` +
        `cpu ${ratio("cpu").toFixed(3)}`,
    );
  }
}

if (values.matmuls) {
  using pool = new BufferPool(gpu);
  const C = config.dim, KV = kvDim(config), H = config.hidden_dim;
  for (const [label, parts] of [["qkv", [C, KV, KV]], ["w13", [H, H]]] as const) {
    const OC = parts.reduce((a, b) => a + b, 0);
    const f = (name: string, n: number) => pool.create(name, n * 4);
    const inp = f("inp", N * C), dinp = f("dinp", N * C), out = f("out", N * OC);
    const weight = f("weight", OC * C + 64 * parts.length), dweight = f("dweight", OC * C + 192);
    const plans = {} as Record<Mode, Plan>;
    for (const mode of ["fused", "unfused"] as const) {
      const plan = plans[mode] = new Plan(gpu, `${label}_${mode}`);
      for (let s = 0; s < steps; s++) {
        if (mode === "fused") {
          matmulForward(plan, { out, inp, weight }, { N, C, OC });
          matmulBackward(plan, { dinp, dweight, dout: out, inp, weight }, { N, C, OC });
          continue;
        }
        // One matmul per part, each weight 256-byte aligned, dinp summed as the graph does.
        let w0 = 0;
        for (const [i, oc] of parts.entries()) {
          const range = { offset: w0 * 4, size: oc * C * 4 };
          const o = { buffer: out, offset: 0, size: N * oc * 4 };
          const w = { buffer: weight, ...range }, dw = { buffer: dweight, ...range };
          matmulForward(plan, { out: o, inp, weight: w }, { N, C, OC: oc });
          matmulBackward(plan, { dinp, dweight: dw, dout: o, inp, weight: w }, {
            N,
            C,
            OC: oc,
            accumulate: i > 0,
          });
          w0 += Math.ceil((oc * C) / 64) * 64;
        }
      }
      await plan.check();
      plan.submit(); // warm-up
      await gpu.device.queue.onSubmittedWorkDone();
    }
    const run = (mode: Mode) => async () => {
      plans[mode].submit();
      await gpu.device.queue.onSubmittedWorkDone();
    };
    console.log(`${label}: ${N}x${C} -> ${parts.join("+")} (forward, dinp, dweight)`);
    await compare(label, { fused: run("fused"), unfused: run("unfused") }, "repetition");
    for (const p of Object.values(plans)) p[Symbol.dispose]();
  }
} else {
  const V = config.vocab_size;
  const x = new Uint32Array(N), y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    x[i] = bitsAt(1, i) % V;
    y[i] = bitsAt(2, i) % V;
  }
  const models = {} as Record<Mode, Model>;
  for (const mode of ["fused", "unfused"] as const) {
    const m = new Model(gpu, config, { B, T, training: true, fuse: mode === "fused" });
    await m.check();
    m.initParams(1337);
    m.setBatch(x, y);
    m.trainPlan.submit(); // warm-up: pipelines compiled, buffers touched
    await m.readLoss();
    models[mode] = m;
    console.log(`${mode.padEnd(7)}: ${m.dispatches.train} dispatches per step`);
  }
  const run = (m: Model) => async () => {
    for (let s = 0; s < steps; s++) {
      m.trainPlan.submit();
      await m.readLoss();
    }
  };
  await compare("step", { fused: run(models.fused), unfused: run(models.unfused) }, "step");
  for (const m of Object.values(models)) m[Symbol.dispose]();
}
