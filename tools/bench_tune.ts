/**
 * Default vs tuned kernels in one process: builds the model with the adapter class's defaults
 * (`--tune off`) and with the cache's choices (`--tune cached`), alternately, and times one
 * training step (forward + backward) of each per round. Prints wall-clock and CPU milliseconds
 * per step (the CPU time of this process, llvmpipe's threads included, is steadier than wall
 * time on a shared machine) and tokens/s, per round and as medians.
 *
 * usage: deno run -A tools/bench_tune.ts [--tune-cache PATH] [--rounds 3] [--dim 288]
 *          [--n-layers 6] [--n-heads 6] [--vocab-size 32000] [--batch-size 8] [--seq-len 256]
 *          [--matmul VARIANT] [--attention VARIANT]
 *
 * Tune first (`deno run -A main.ts bench --tune full`); keys missing from the cache run their
 * defaults in both builds. `--matmul VARIANT` (e.g. `reg_wg8_16x12`, the CPU default before the
 * `tex_*` variants) replaces the cache: the second build runs VARIANT for every matmul key of the
 * model and the defaults for the other kernels (through a temporary cache file of those keys),
 * so the two builds compare two matmul variants. `--attention VARIANT` (e.g. `wg8_r2`, the CPU
 * default before the `tex_*` variants) does the same for the three attention kernels; both flags
 * together pin both.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { acquireGpu } from "../src/gpu/device.ts";
import {
  adapterKey,
  defaultTuneCachePath,
  tuneAdapterInfo,
  type TuneCacheFile,
  type TuneMode,
  tunerFor,
} from "../src/gpu/tune.ts";
import {
  MATMUL_BACKWARD_DINP,
  MATMUL_BACKWARD_DWEIGHT,
  MATMUL_FORWARD,
  parseMatmulVariant,
} from "../src/ops/matmul.ts";
import {
  allAttentionVariants,
  ATTENTION_BACKWARD_DKDV,
  ATTENTION_BACKWARD_DQ,
  ATTENTION_FORWARD,
} from "../src/ops/attention.ts";
import { modelConfig } from "../src/model/config.ts";
import { Model } from "../src/model/model.ts";
import { bitsAt } from "../src/util/rng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "tune-cache": { type: "string" },
    rounds: { type: "string", default: "3" },
    dim: { type: "string", default: "288" },
    "n-layers": { type: "string", default: "6" },
    "n-heads": { type: "string", default: "6" },
    "vocab-size": { type: "string", default: "32000" },
    "batch-size": { type: "string", default: "8" },
    "seq-len": { type: "string", default: "256" },
    matmul: { type: "string" },
    attention: { type: "string" },
  },
});
const B = Number(values["batch-size"]), T = Number(values["seq-len"]);
const config = modelConfig({
  dim: Number(values.dim),
  n_layers: Number(values["n-layers"]),
  n_heads: Number(values["n-heads"]),
  n_kv_heads: Number(values["n-heads"]),
  vocab_size: Number(values["vocab-size"]),
  max_seq_len: T,
});
using gpu = await acquireGpu();
let cachePath = values["tune-cache"] ?? defaultTuneCachePath();
const MATMULS = [MATMUL_FORWARD, MATMUL_BACKWARD_DINP, MATMUL_BACKWARD_DWEIGHT];
const ATTENTIONS = [ATTENTION_FORWARD, ATTENTION_BACKWARD_DQ, ATTENTION_BACKWARD_DKDV];
const pins: { families: { name: string; sourceHash: string }[]; variant: string }[] = [];
if (values.matmul !== undefined) {
  parseMatmulVariant(values.matmul);
  pins.push({ families: MATMULS, variant: values.matmul });
}
if (values.attention !== undefined) {
  if (!allAttentionVariants().includes(values.attention)) {
    console.error(`error: Cannot pin attention: unknown variant '${values.attention}'`);
    Deno.exit(2);
  }
  pins.push({ families: ATTENTIONS, variant: values.attention });
}
if (pins.length > 0) cachePath = await _pin();
const pinText = [
  values.matmul && `matmul ${values.matmul}`,
  values.attention && `attention ${values.attention}`,
].filter(Boolean).join(", ");
console.log(
  `adapter: ${gpu.description}; ${
    pins.length ? `second build: ${pinText}` : `cache ${cachePath}`
  }; load ${Deno.loadavg().join(" ")}`,
);
const N = B * T, V = config.vocab_size;
const x = new Uint32Array(N), y = new Int32Array(N);
for (let i = 0; i < N; i++) {
  x[i] = bitsAt(1, i) % V;
  y[i] = bitsAt(2, i) % V;
}

async function step(mode: TuneMode, warm: boolean): Promise<{ wall: number; cpu: number }> {
  await tunerFor(gpu).configure({ mode, cachePath, log: () => {} });
  using model = new Model(gpu, config, { B, T, training: true });
  await model.check();
  model.initParams(1337);
  model.setBatch(x, y);
  if (warm) {
    model.trainPlan.submit();
    await model.readLoss();
  }
  const t0 = performance.now(), c0 = process.cpuUsage();
  model.trainPlan.submit();
  await model.readLoss();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

/** A temporary cache file that picks each pin's variant for every key of its families. */
async function _pin(): Promise<string> {
  await tunerFor(gpu).configure({ mode: "off", log: () => {} });
  new Model(gpu, config, { B, T, training: true })[Symbol.dispose]();
  const entries: TuneCacheFile["adapters"][string]["entries"] = {};
  for (const pick of tunerFor(gpu).picks()) {
    const pin = pins.find((p) => p.families.some((f) => f.name === pick.family));
    const f = pin?.families.find((f) => f.name === pick.family);
    if (!pin || !f) continue;
    const variant = pin.variant;
    entries[`${f.name} ${pick.shape}`] = {
      family: f.name,
      shape: pick.shape,
      hash: f.sourceHash,
      variant,
      fallback: pick.variant,
      timer: "cpu",
      gflop: 0,
      results: [],
      tunedAt: new Date().toISOString(),
    };
  }
  const file: TuneCacheFile = {
    version: 1,
    adapters: { [adapterKey(gpu)]: { info: tuneAdapterInfo(gpu), entries } },
  };
  const path = await Deno.makeTempFile({ prefix: "bench_tune_", suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(file));
  return path;
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const res: Record<TuneMode, { wall: number; cpu: number }[]> = { off: [], cached: [], full: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  for (const mode of ["off", "cached"] as const) {
    const t = await step(mode, r === 0);
    res[mode].push(t);
    console.log(
      `round ${r + 1} ${mode.padEnd(6)}: ${t.wall.toFixed(0)} ms wall, ${
        t.cpu.toFixed(0)
      } ms cpu, ` +
        `${(N / (t.wall / 1000)).toFixed(1)} tokens/s; load ${Deno.loadavg()[0]}`,
    );
  }
}
for (const mode of ["off", "cached"] as const) {
  const w = median(res[mode].map((t) => t.wall)), c = median(res[mode].map((t) => t.cpu));
  console.log(
    `median ${mode.padEnd(6)}: ${w.toFixed(0)} ms wall (${
      (N / (w / 1000)).toFixed(1)
    } tokens/s), ` +
      `${c.toFixed(0)} ms cpu (${(N / (c / 1000)).toFixed(1)} tokens per cpu-s)`,
  );
}
