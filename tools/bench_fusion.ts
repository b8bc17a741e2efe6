/**
 * Fused vs unfused plans in one process: builds the model twice, with the fused kernels
 * (`ModelShape.fuse`, the default) and with one kernel per op (`fuse: false`, the graph before
 * fusion), then times training steps (forward + backward, one submit and one loss readback each)
 * of the two alternately, `--steps` of each per round. Kernel variants are the adapter class's
 * defaults (`--tune off`). Prints dispatches per step, and per round and as medians and minima
 * the wall-clock and CPU milliseconds per step (the CPU time of this process, llvmpipe's threads
 * included, is steadier than wall time on a shared machine).
 *
 * usage: deno run -A tools/bench_fusion.ts [--rounds 5] [--steps 1] [--dim 288] [--n-layers 6]
 *          [--n-heads 6] [--n-kv-heads 6] [--vocab-size 32000] [--batch-size 8] [--seq-len 256]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import { tunerFor } from "../src/gpu/tune.ts";
import { modelConfig } from "../src/model/config.ts";
import { Model } from "../src/model/model.ts";
import { bitsAt } from "../src/util/rng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
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
const steps = Number(values.steps);
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
const N = B * T, V = config.vocab_size;
const x = new Uint32Array(N), y = new Int32Array(N);
for (let i = 0; i < N; i++) {
  x[i] = bitsAt(1, i) % V;
  y[i] = bitsAt(2, i) % V;
}

const modes = ["fused", "unfused"] as const;
type Mode = typeof modes[number];
const models = {} as Record<Mode, Model>;
for (const mode of modes) {
  const m = new Model(gpu, config, { B, T, training: true, fuse: mode === "fused" });
  await m.check();
  m.initParams(1337);
  m.setBatch(x, y);
  m.trainPlan.submit(); // warm-up: pipelines compiled, buffers touched
  await m.readLoss();
  models[mode] = m;
  console.log(`${mode.padEnd(7)}: ${m.dispatches.train} dispatches per step`);
}

async function time(m: Model): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now(), c0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    m.trainPlan.submit();
    await m.readLoss();
  }
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / steps, cpu: (c.user + c.system) / 1000 / steps };
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const res: Record<Mode, { wall: number; cpu: number }[]> = { fused: [], unfused: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  // Alternate which goes first, so that neither always follows the other.
  for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
    const t = await time(models[mode]);
    res[mode].push(t);
    console.log(
      `round ${r + 1} ${mode.padEnd(7)}: ${t.wall.toFixed(1)} ms wall, ${
        t.cpu.toFixed(1)
      } ms cpu ` +
        `per step; load ${Deno.loadavg()[0]}`,
    );
  }
}
const min = (a: number[]) => Math.min(...a);
for (const [stat, f] of [["median", median], ["min", min]] as const) {
  for (const mode of modes) {
    const w = f(res[mode].map((t) => t.wall)), c = f(res[mode].map((t) => t.cpu));
    console.log(
      `${stat.padEnd(6)} ${mode.padEnd(7)}: ${w.toFixed(1)} ms wall (${
        (N / (w / 1000)).toFixed(0)
      } tokens/s), ${c.toFixed(1)} ms cpu (${(N / (c / 1000)).toFixed(0)} tokens per cpu-s)`,
    );
  }
  const ratio = (k: "wall" | "cpu") =>
    f(res.unfused.map((t) => t[k])) / f(res.fused.map((t) => t[k]));
  console.log(
    `${stat.padEnd(6)} unfused / fused: wall ${ratio("wall").toFixed(3)}, cpu ${
      ratio("cpu").toFixed(3)
    }`,
  );
}
for (const m of Object.values(models)) m[Symbol.dispose]();
