/**
 * Per-kernel GPU time of one replay of recorded plans, from timestamp queries.
 *
 * The replay puts each dispatch in its own compute pass with `timestampWrites` (the standard
 * `timestamp-query` feature; Deno 2.9 has no `writeTimestamp` inside a pass, so wgpu's
 * `timestamp-query-inside-passes` cannot be used from JavaScript). Pass boundaries cost a little
 * on a GPU, so the sum of the pass times can exceed a normal replay's time; the shares between
 * kernels are what this is for. Clears and copies are not timed.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { BufferPool } from "./buffers.ts";
 * import { defineKernel } from "./kernel.ts";
 * import { Plan } from "./plan.ts";
 * import { formatProfile, profilePlans } from "./profile.ts";
 *
 * const fill = defineKernel("fill", `
 * @group(0) @binding(0) var<storage, read_write> out: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
 *   if (g.x < arrayLength(&out)) { out[g.x] = f32(g.x); }
 * }`);
 * using gpu = await acquireGpu();
 * using pool = new BufferPool(gpu);
 * using plan = new Plan(gpu, "demo");
 * plan.dispatch(fill, { out: pool.create("out", 4096 * 4) }, {}, [64]);
 * if (gpu.timestamps) console.log(formatProfile(await profilePlans(gpu, [plan])));
 * ```
 *
 * @module
 */
import type { Gpu } from "./device.ts";
import type { DispatchTiming, Plan } from "./plan.ts";

/** GPU time of one dispatch. */
export interface DispatchTime {
  /** Position among the timed dispatches, in replay order. */
  index: number;
  /** Kernel label (the kernel's name). */
  kernel: string;
  /** Milliseconds from the start to the end of its pass (median over reps). */
  ms: number;
}

/** GPU time of every dispatch of one kernel, added up. */
export interface KernelTime {
  /** Kernel label. */
  kernel: string;
  /** Dispatches of it in one replay. */
  count: number;
  /** Milliseconds, summed over its dispatches. */
  ms: number;
  /** Fraction of {@link PlanProfile.gpuMs}. */
  share: number;
}

/** Result of {@link profilePlans}. */
export interface PlanProfile {
  /** Labels of the profiled plans. */
  plans: string[];
  /** Dispatches timed per replay. */
  dispatches: number;
  /** Sum of all dispatch times (ms). */
  gpuMs: number;
  /** From the first pass's start to the last pass's end (ms), gaps included. */
  spanMs: number;
  /** Wall time of the profiled submit until `onSubmittedWorkDone` (ms; median over reps). */
  wallMs: number;
  /** Per kernel, slowest first. */
  kernels: KernelTime[];
  /** The slowest single dispatches, slowest first. */
  slowest: DispatchTime[];
}

/** Options for {@link profilePlans}. */
export interface ProfileOptions {
  /** Profiled replays; each dispatch's time is its median over them (default 1). */
  reps?: number;
  /** Run one ordinary replay first, so compilation and first touches are not timed (default true). */
  warmup?: boolean;
  /** How many single dispatches to keep in {@link PlanProfile.slowest} (default 10). */
  top?: number;
}

/** Queries per query set: WebGPU's maximum. */
const QUERY_SET_SIZE = 4096;

/**
 * Hands out a (begin, end) timestamp pair per pass and reads them back; a {@link DispatchTiming}
 * for {@link Plan.encode}. One timer serves one submit.
 */
export class PassTimer implements DispatchTiming, Disposable {
  #sets: GPUQuerySet[] = [];
  #labels: string[] = [];
  #resolve: GPUBuffer | null = null;
  #readback: GPUBuffer | null = null;

  /**
   * Creates an empty timer (query sets are made as passes ask for timestamps).
   *
   * @param gpu a device with `timestamp-query`
   * @throws {TypeError} when the device has no `timestamp-query`
   */
  constructor(readonly gpu: Gpu) {
    if (!gpu.timestamps) {
      throw new TypeError("Cannot time passes: the device was not granted timestamp-query");
    }
  }

  /** Labels of the passes handed out so far, in order. */
  get labels(): readonly string[] {
    return this.#labels;
  }

  /** Where the next pass writes its timestamps. */
  timestampWrites(label: string): GPUComputePassTimestampWrites {
    const q = this.#labels.length * 2;
    this.#labels.push(label);
    const s = Math.floor(q / QUERY_SET_SIZE);
    this.#sets[s] ??= this.gpu.device.createQuerySet({
      label: `timestamps.${s}`,
      type: "timestamp",
      count: QUERY_SET_SIZE,
    });
    const i = q % QUERY_SET_SIZE;
    return { querySet: this.#sets[s], beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Records the resolve of every timestamp handed out into `encoder` (after the passes). */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#labels.length * 2;
    if (n === 0) return;
    const bytes = this.#sets.length * QUERY_SET_SIZE * 8;
    this.#resolve = this.gpu.device.createBuffer({
      label: "timestamps.resolve",
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.#readback = this.gpu.device.createBuffer({
      label: "timestamps.readback",
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#sets.forEach((set, s) => {
      const count = Math.min(QUERY_SET_SIZE, n - s * QUERY_SET_SIZE);
      encoder.resolveQuerySet(set, 0, count, this.#resolve!, s * QUERY_SET_SIZE * 8);
    });
    encoder.copyBufferToBuffer(this.#resolve, 0, this.#readback, 0, bytes);
  }

  /**
   * Reads the timestamps back (after the submit that holds {@link PassTimer.resolve}).
   *
   * @returns each pass's begin and end in nanoseconds, in order
   * @throws {Error} when every timestamp read back as zero
   */
  async read(): Promise<{ label: string; begin: bigint; end: bigint }[]> {
    if (!this.#readback) return [];
    await this.#readback.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(this.#readback.getMappedRange().slice(0));
    this.#readback.unmap();
    const out = this.#labels.map((label, i) => ({ label, begin: t[2 * i], end: t[2 * i + 1] }));
    if (out.every((p) => p.begin === 0n && p.end === 0n)) {
      throw new Error("Cannot read timestamps: every one of them is zero");
    }
    return out;
  }

  /** Destroys the query sets and buffers. */
  [Symbol.dispose](): void {
    for (const s of this.#sets) s.destroy();
    this.#resolve?.destroy();
    this.#readback?.destroy();
  }
}

function _median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Replays `plans` in one submit with every dispatch timed, and adds the times up per kernel.
 *
 * @param gpu a device with `timestamp-query` ({@link Gpu.timestamps})
 * @param plans the plans, replayed in order into one command encoder
 * @param options reps, warm-up and how many single dispatches to list
 * @returns per-kernel and per-dispatch times
 * @throws {TypeError} when the device has no `timestamp-query`
 * @throws {Error} when the replay fails validation
 */
export async function profilePlans(
  gpu: Gpu,
  plans: readonly Plan[],
  options: ProfileOptions = {},
): Promise<PlanProfile> {
  if (!gpu.timestamps) {
    throw new TypeError("Cannot profile: the device was not granted timestamp-query");
  }
  const reps = Math.max(1, Math.floor(options.reps ?? 1));
  if (options.warmup ?? true) {
    const enc = gpu.device.createCommandEncoder({ label: "profile.warmup" });
    for (const p of plans) p.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
  }
  const perDispatch: number[][] = [];
  const spans: number[] = [], walls: number[] = [];
  let labels: readonly string[] = [];
  for (let r = 0; r < reps; r++) {
    using timer = new PassTimer(gpu);
    const enc = gpu.device.createCommandEncoder({ label: "profile" });
    for (const p of plans) p.encode(enc, timer);
    timer.resolve(enc);
    gpu.device.pushErrorScope("validation");
    const t0 = performance.now();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    walls.push(performance.now() - t0);
    const err = await gpu.device.popErrorScope();
    if (err) throw new Error(`Cannot profile: ${err.message.split("\n")[0]}`);
    const passes = await timer.read();
    labels = timer.labels;
    passes.forEach((p, i) => {
      const ns = p.end >= p.begin ? Number(p.end - p.begin) : 0;
      (perDispatch[i] ??= []).push(ns / 1e6);
    });
    if (passes.length > 0) {
      const first = passes[0].begin, last = passes[passes.length - 1].end;
      spans.push(last >= first ? Number(last - first) / 1e6 : 0);
    }
  }
  const times: DispatchTime[] = labels.map((kernel, index) => ({
    index,
    kernel,
    ms: _median(perDispatch[index]),
  }));
  const gpuMs = times.reduce((a, t) => a + t.ms, 0);
  const byKernel = new Map<string, KernelTime>();
  for (const t of times) {
    const k = byKernel.get(t.kernel) ?? { kernel: t.kernel, count: 0, ms: 0, share: 0 };
    k.count++;
    k.ms += t.ms;
    byKernel.set(t.kernel, k);
  }
  const kernels = [...byKernel.values()].sort((a, b) => b.ms - a.ms);
  for (const k of kernels) k.share = gpuMs > 0 ? k.ms / gpuMs : 0;
  return {
    plans: plans.map((p) => p.label),
    dispatches: times.length,
    gpuMs,
    spanMs: spans.length ? _median(spans) : 0,
    wallMs: _median(walls),
    kernels,
    slowest: [...times].sort((a, b) => b.ms - a.ms).slice(0, options.top ?? 10),
  };
}

/**
 * A plain-text table of a profile: one line per kernel (time, share, dispatches), then totals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProfile } from "./profile.ts";
 *
 * const text = formatProfile({
 *   plans: ["train_step"], dispatches: 3, gpuMs: 4, spanMs: 4.5, wallMs: 5, slowest: [],
 *   kernels: [{ kernel: "matmul_forward", count: 2, ms: 3, share: 0.75 },
 *     { kernel: "residual_forward", count: 1, ms: 1, share: 0.25 }],
 * });
 * assert.match(text, /^matmul_forward +3\.000 +75\.0% +2$/m);
 * ```
 */
export function formatProfile(p: PlanProfile): string {
  const w = Math.max(6, ...p.kernels.map((k) => k.kernel.length));
  const lines = [
    `${"kernel".padEnd(w)}  ${"ms".padStart(10)}  ${"share".padStart(6)}  dispatches`,
    ...p.kernels.map((k) =>
      `${k.kernel.padEnd(w)}  ${k.ms.toFixed(3).padStart(10)}  ${
        (k.share * 100).toFixed(1).padStart(5)
      }%  ${k.count}`
    ),
    `${"total".padEnd(w)}  ${p.gpuMs.toFixed(3).padStart(10)}  100.0%  ${p.dispatches}` +
    `  (first to last pass ${p.spanMs.toFixed(3)} ms; wall ${p.wallMs.toFixed(3)} ms; plans ${
      p.plans.join(", ")
    })`,
  ];
  return lines.join("\n");
}
