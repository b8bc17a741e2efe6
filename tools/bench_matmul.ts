/**
 * Benchmarks the three matmul kernels on the 15M model's shapes (C=288, H=768, V=32000) and
 * prints GFLOP/s per kernel, shape and variant.
 *
 * usage: deno run -A tools/bench_matmul.ts [--variants NAME,NAME...] [--reps 8] [--n 2048]
 *          [--kinds forward,dinp,dweight] [--shapes 288x288,288x768,768x288,288x32000]
 *
 * Variants are names as in src/ops/matmul.ts (`reg_wg8_16x12`, `tile_16x16_4x4`,
 * `tile_16x16_4x4_k8`); the default is every candidate the tuner would time on this adapter,
 * its default first. Each measurement records `reps` dispatches into one plan, submits once,
 * waits once with onSubmittedWorkDone (best of 3 runs, after a warm-up run). N rows (default
 * 2048), except for a 32000-wide output, which gets the rows the model's classifier chunk has
 * (as many as fit one 128 MiB binding: 1024). Besides wall-clock GFLOP/s it prints GFLOP per
 * CPU-second of this process (llvmpipe's worker threads included), which is steadier than wall
 * time on a shared machine. Compare with tools/bench_matmul.py (PyTorch).
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import { BufferPool } from "../src/gpu/buffers.ts";
import { Plan } from "../src/gpu/plan.ts";
import {
  matmulBackwardDinp,
  matmulBackwardDweight,
  matmulForward,
  type MatmulKind,
  matmulVariants,
} from "../src/ops/matmul.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    variants: { type: "string" },
    reps: { type: "string", default: "8" },
    n: { type: "string", default: "2048" },
    kinds: { type: "string", default: "forward,dinp,dweight" },
    shapes: { type: "string", default: "288x288,288x768,768x288,288x32000" },
  },
});

using gpu = await acquireGpu();
console.log(`adapter: ${gpu.description}`);
const reps = Number(values.reps);
const kinds = values.kinds.split(",") as MatmulKind[];
const shapes = values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]);

for (const kind of kinds) {
  for (const [C, OC] of shapes) {
    const maxRows = Math.floor(gpu.limits.maxStorageBufferBindingSize / (Math.max(C, OC) * 4));
    const N = Math.min(Number(values.n), maxRows >= 64 ? Math.floor(maxRows / 64) * 64 : maxRows);
    using pool = new BufferPool(gpu);
    const inp = pool.create("inp", N * C * 4), out = pool.create("out", N * OC * 4);
    const w = pool.create("w", OC * C * 4);
    const variants = values.variants?.split(",") ?? matmulVariants(gpu, kind, { N, C, OC });
    for (const variant of variants) {
      using plan = new Plan(gpu, "bench");
      try {
        for (let r = 0; r < reps; r++) {
          if (kind === "forward") {
            matmulForward(plan, { out, inp, weight: w }, { N, C, OC }, variant);
          } else if (kind === "dinp") {
            matmulBackwardDinp(plan, { dinp: inp, dout: out, weight: w }, { N, C, OC }, variant);
          } else {
            matmulBackwardDweight(plan, { dweight: w, dout: out, inp }, { N, C, OC }, variant);
          }
        }
      } catch (e) {
        console.log(`${kind.padEnd(8)} N=${N} C=${C} OC=${OC} ${variant}: ${(e as Error).message}`);
        continue;
      }
      await plan.check();
      let best = Infinity, bestCpu = Infinity;
      for (let run = 0; run < 4; run++) {
        const t0 = performance.now(), c0 = process.cpuUsage();
        plan.submit();
        await gpu.device.queue.onSubmittedWorkDone();
        const dt = performance.now() - t0, c = process.cpuUsage(c0);
        if (run > 0) {
          best = Math.min(best, dt);
          bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
        }
      }
      const flop = 2 * N * C * OC * reps;
      console.log(
        `${kind.padEnd(8)} N=${N} C=${C} OC=${OC} ${variant}: ${
          (best / reps).toFixed(2)
        } ms/dispatch, ` +
          `${(flop / best / 1e6).toFixed(1)} GFLOP/s, ${
            (flop / bestCpu / 1e6).toFixed(1)
          } GFLOP/cpu-s`,
      );
    }
  }
}
