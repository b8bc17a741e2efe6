/**
 * Benchmarks the three matmul kernels on the 15M model's shapes (C=288, H=768, V=32000) and
 * prints GFLOP/s per kernel, shape and tile shape.
 *
 * usage: deno run -A tools/bench_matmul.ts [--tiles WG,TM,TN;WG,TM,TN...] [--reps 8]
 *          [--kinds forward,dinp,dweight] [--shapes 288x288,288x768,768x288,288x32000]
 *
 * Each measurement records `reps` dispatches into one plan, submits once, waits once with
 * onSubmittedWorkDone (best of 3 runs, after a warm-up run). N=2048 rows, except N=256 for
 * the 32000-wide classifier (which the model chunks over rows). Besides wall-clock GFLOP/s it
 * prints GFLOP per CPU-second of this process (llvmpipe's worker threads included), which is
 * steadier than wall time on a shared machine. Compare with tools/bench_matmul.py (PyTorch).
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
  type MatmulTiles,
  matmulTiles,
} from "../src/ops/matmul.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tiles: { type: "string" },
    reps: { type: "string", default: "8" },
    kinds: { type: "string", default: "forward,dinp,dweight" },
    shapes: { type: "string", default: "288x288,288x768,768x288,288x32000" },
  },
});

using gpu = await acquireGpu();
console.log(`adapter: ${gpu.description}`);
const reps = Number(values.reps);
const kinds = values.kinds.split(",") as MatmulKind[];
const shapes = values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]);
const tileSets: (MatmulTiles | null)[] = values.tiles
  ? values.tiles.split(";").map((t) => {
    const [WG, TM, TN] = t.split(",").map(Number);
    return { WG, TM, TN };
  })
  : [null];

for (const kind of kinds) {
  for (const [C, OC] of shapes) {
    const N = OC > 4096 ? 256 : 2048;
    using pool = new BufferPool(gpu);
    const inp = pool.create("inp", N * C * 4), out = pool.create("out", N * OC * 4);
    const w = pool.create("w", OC * C * 4);
    for (const t of tileSets) {
      const tiles = t ?? matmulTiles(gpu, kind);
      using plan = new Plan(gpu, "bench");
      for (let r = 0; r < reps; r++) {
        if (kind === "forward") matmulForward(plan, { out, inp, weight: w }, { N, C, OC }, tiles);
        else if (kind === "dinp") {
          matmulBackwardDinp(plan, { dinp: inp, dout: out, weight: w }, { N, C, OC }, tiles);
        } else matmulBackwardDweight(plan, { dweight: w, dout: out, inp }, { N, C, OC }, tiles);
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
      const shape = `N=${N} C=${C} OC=${OC} tiles WG=${tiles.WG} TM=${tiles.TM} TN=${tiles.TN}`;
      console.log(
        `${kind.padEnd(8)} ${shape}: ${(best / reps).toFixed(2)} ms/dispatch, ` +
          `${(flop / best / 1e6).toFixed(1)} GFLOP/s, ${
            (flop / bestCpu / 1e6).toFixed(1)
          } GFLOP/cpu-s`,
      );
    }
  }
}
