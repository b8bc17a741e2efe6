/**
 * `bench`: wall time of one training forward+backward (and optionally the AdamW update) of a
 * model at a batch shape, on this machine's adapter, with the kernel variants `--tune` picks.
 *
 * @module
 */
import { type Command, REQUIRE_GPU_FLAG, requireGpuOption, UsageError } from "./args.ts";
import { acquireGpu } from "../gpu/device.ts";
import { formatTuneTable, tunerFor } from "../gpu/tune.ts";
import { modelConfig } from "../model/config.ts";
import { Model } from "../model/model.ts";
import { bitsAt } from "../util/rng.ts";
import { formatProfile, profilePlans } from "../gpu/profile.ts";
import { configureTuner, TUNE_FLAGS } from "./tune.ts";

/**
 * The `bench` subcommand: prints one JSON line with ms per step, tokens/s, dispatches and the
 * kernel variants used; with `--tune full` or `cached`, the table of tuned candidates on stderr.
 */
export const benchCommand: Command = {
  name: "bench",
  summary: "time forward+backward of a model shape (JSON on stdout)",
  usage:
    "[--dim 288] [--n-layers 6] [--n-heads 6] [--n-kv-heads 6] [--vocab-size 32000] [--batch-size 8] [--seq-len 256] [--profile] [--tune full|cached|off]",
  flags: {
    dim: { type: "number", default: 288, help: "model width" },
    "n-layers": { type: "number", default: 6, help: "blocks" },
    "n-heads": { type: "number", default: 6, help: "query heads" },
    "n-kv-heads": { type: "number", default: 6, help: "key/value heads" },
    "vocab-size": { type: "number", default: 32000, help: "vocabulary" },
    "batch-size": { type: "number", default: 8, help: "rows B" },
    "seq-len": { type: "number", default: 256, help: "tokens per row T" },
    iters: { type: "number", default: 3, help: "timed steps (after one warm-up)" },
    forward: { type: "boolean", default: false, help: "time the forward pass only" },
    verbose: { type: "boolean", default: true, help: "print the adapter on stderr" },
    profile: {
      type: "boolean",
      default: false,
      help: "also time each kernel of one step with timestamp queries (a table on stderr)",
    },
    "require-gpu": REQUIRE_GPU_FLAG,
    ...TUNE_FLAGS,
  },
  async run(v) {
    const B = v["batch-size"] as number, T = v["seq-len"] as number, iters = v.iters as number;
    for (const [k, n] of [["batch-size", B], ["seq-len", T], ["iters", iters]] as const) {
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(`--${k} must be a positive integer, got ${n}`);
      }
    }
    const config = modelConfig({
      dim: v.dim as number,
      n_layers: v["n-layers"] as number,
      n_heads: v["n-heads"] as number,
      n_kv_heads: v["n-kv-heads"] as number,
      vocab_size: v["vocab-size"] as number,
      max_seq_len: T,
    });
    using gpu = await acquireGpu({
      verbose: v.verbose as boolean,
      requireGpu: requireGpuOption(v),
    });
    const mode = await configureTuner(gpu, v);
    const training = !v.forward;
    using model = await tunerFor(gpu).build(() => new Model(gpu, config, { B, T, training }));
    await model.check();
    const picks = tunerFor(gpu).picks();
    if (mode !== "off") {
      const used = new Set(picks.map((p) => `${p.family} ${p.shape}`));
      const entries = tunerFor(gpu).entries().filter((e) => used.has(`${e.family} ${e.shape}`));
      if (entries.length > 0) console.error(formatTuneTable(entries));
    }
    model.initParams(1337);
    const N = B * T, V = config.vocab_size;
    const x = new Uint32Array(N), y = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      x[i] = bitsAt(1, i) % V;
      y[i] = bitsAt(2, i) % V;
    }
    model.setBatch(x, y);
    const plan = training ? model.trainPlan : model.forwardPlan;
    plan.submit();
    await model.readLoss();
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      plan.submit();
      await model.readLoss();
      times.push(performance.now() - t0);
    }
    const ms = Math.min(...times);
    let profile = null;
    if (v.profile && gpu.timestamps) {
      const p = await profilePlans(gpu, [plan]);
      console.error(formatProfile(p));
      profile = {
        gpu_ms: +p.gpuMs.toFixed(3),
        span_ms: +p.spanMs.toFixed(3),
        wall_ms: +p.wallMs.toFixed(3),
        dispatches: p.dispatches,
        kernels: p.kernels.map((k) => ({
          kernel: k.kernel,
          count: k.count,
          ms: +k.ms.toFixed(3),
          share: +k.share.toFixed(4),
        })),
      };
    } else if (v.profile) {
      console.error("bench: no per-kernel profile: the device was not granted timestamp-query");
    }
    console.log(JSON.stringify({
      adapter: gpu.description,
      params: model.table.numParams,
      B,
      T,
      pass: training ? "forward+backward" : "forward",
      ms_min: Math.round(ms),
      ms_all: times.map(Math.round),
      tokens_per_s: Math.round(N / (ms / 1000)),
      gpu_mb: Math.round(model.bytes / 2 ** 20),
      dispatches_per_step: training ? model.dispatches.train : model.dispatches.forward,
      ...(v.profile ? { profile } : {}),
      tune: mode,
      kernels: Object.fromEntries(picks.map((p) => [`${p.family} ${p.shape}`, p.variant])),
    }));
  },
};
