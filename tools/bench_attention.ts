/**
 * Benchmarks the three attention kernels (forward, backward dq, backward dkdv) on the 15M model's
 * shape (B8 x T256, 6 heads of 48) and prints milliseconds per dispatch and GFLOP/s per kernel
 * and variant.
 *
 * usage: deno run -A tools/bench_attention.ts [--variants NAME,NAME...] [--reps 4] [--rounds 3]
 *          [--b 8] [--t 256] [--nh 6] [--nkv 6] [--hs 48]
 *
 * Variants are names as in src/ops/attention.ts (`wg8_r2`, `tex_wg8_r2`); the default is every
 * candidate the tuner would time on this adapter. Each measurement records `reps` dispatches of
 * one kernel (with their texture copies, for `tex_*`) into one plan, submits once and waits once;
 * the variants are timed alternately, `rounds` times after a warm-up round, and the best round
 * is kept. The warm-up's wall time is printed as "first run": it includes llvmpipe's compile of
 * the pipeline unless Mesa's shader cache has it (`MESA_SHADER_CACHE_DIR` pointing at an empty
 * directory shows the compile). Besides wall-clock figures it prints
 * milliseconds of this process's CPU time (llvmpipe's worker threads included), steadier than wall
 * time on a shared machine. FLOPs count the causal lower triangle: 2 matrix products of
 * B·NH·HS·T(T+1)/2 multiply-adds in the forward, 3 in dq (q·k, dout·v, dS·k), 4 in dkdv.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import { BufferPool } from "../src/gpu/buffers.ts";
import { Plan } from "../src/gpu/plan.ts";
import {
  ATTENTION_BACKWARD_DKDV,
  ATTENTION_BACKWARD_DQ,
  ATTENTION_FORWARD,
} from "../src/ops/attention.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    variants: { type: "string" },
    reps: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    b: { type: "string", default: "8" },
    t: { type: "string", default: "256" },
    nh: { type: "string", default: "6" },
    nkv: { type: "string", default: "6" },
    hs: { type: "string", default: "48" },
  },
});

using gpu = await acquireGpu();
console.log(`adapter: ${gpu.description}`);
const p = {
  B: Number(values.b),
  T: Number(values.t),
  NH: Number(values.nh),
  NKV: Number(values.nkv),
  HS: Number(values.hs),
};
const reps = Number(values.reps), rounds = Number(values.rounds);
for (const family of [ATTENTION_FORWARD, ATTENTION_BACKWARD_DQ, ATTENTION_BACKWARD_DKDV]) {
  using pool = new BufferPool(gpu);
  const c = family.setup(gpu, p, pool);
  const variants = values.variants?.split(",") ?? family.candidates(gpu, p);
  const plans = new Map<string, Plan>();
  for (const v of variants) {
    const plan = new Plan(gpu, `bench ${v}`);
    try {
      for (let r = 0; r < reps; r++) c.record(plan, v);
      await plan.check();
      plans.set(v, plan);
    } catch (e) {
      console.log(`${family.name} ${v}: ${(e as Error).message}`);
      plan[Symbol.dispose]();
    }
  }
  const best = new Map<string, { wall: number; cpu: number }>();
  const first = new Map<string, number>();
  for (let round = 0; round <= rounds; round++) {
    for (const [v, plan] of plans) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      plan.submit();
      await gpu.device.queue.onSubmittedWorkDone();
      const wall = (performance.now() - t0) / reps;
      const u = process.cpuUsage(c0), cpu = (u.user + u.system) / 1000 / reps;
      if (round === 0) {
        first.set(v, wall * reps);
        continue;
      }
      const b = best.get(v) ?? { wall: Infinity, cpu: Infinity };
      best.set(v, { wall: Math.min(b.wall, wall), cpu: Math.min(b.cpu, cpu) });
    }
  }
  for (const [v, b] of best) {
    console.log(
      `${family.name.padEnd(24)} ${v.padEnd(12)} ${b.wall.toFixed(2)} ms/dispatch, ` +
        `${b.cpu.toFixed(2)} cpu-ms, ${(c.flop / b.wall / 1e6).toFixed(2)} GFLOP/s, ` +
        `${(c.flop / b.cpu / 1e6).toFixed(2)} GFLOP/cpu-s (first run ${
          (first.get(v)! / 1000).toFixed(1)
        } s)`,
    );
    plans.get(v)![Symbol.dispose]();
  }
}
