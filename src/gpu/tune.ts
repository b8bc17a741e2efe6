/**
 * The kernel autotuner: picks one variant of a kernel family (say `matmul_forward`) for each
 * shape it runs at, on this adapter.
 *
 * Each device has one {@link Tuner} ({@link tunerFor}). Launchers are synchronous and run while
 * a model records its plans, so they ask {@link Tuner.pick} (sync) for a variant. Tuning is asynchronous: {@link Tuner.build} records an
 * object once (the picks it asks for are collected), tunes the (kernel, shape) keys the cache
 * has no answer for, and records it again with the winners. Tuning one key times each candidate
 * (one warm-up submit whose output is checked against the default variant's, then a few
 * repetitions in one submit: on a CPU adapter by the process's CPU time, on a GPU by timestamps
 * where the device has `timestamp-query` (each dispatch in its own timed pass, the times added
 * up), else by the wall clock around `onSubmittedWorkDone`) and keeps the fastest.
 *
 * Choices are cached in a JSON file ({@link defaultTuneCachePath}), keyed by adapter
 * ({@link adapterKey}), family, a hash of the family's kernel sources and candidate list, and
 * shape; the file is replaced atomically. A table shipped with the code
 * (`tune_shipped.json`, {@link SHIPPED_TUNING}) holds winners measured on known GPUs, keyed more
 * loosely ({@link shippedAdapterKey}). Modes: `off` picks a fixed default per adapter class
 * (CPU or GPU), ignoring both; `cached` uses the cache, else the shipped table, else the default;
 * `full` tunes what the cache lacks (a shipped entry does not stop it) and uses the shipped
 * table, else the default, where tuning gave no answer. For a given cache file, shipped table
 * and mode, the picks are deterministic.
 *
 * @module
 */
import { dirname } from "node:path";
import process from "node:process";
import { writeFileAtomic } from "../util/atomic.ts";
import type { Gpu } from "./device.ts";
import { BufferPool, readF32 } from "./buffers.ts";
import { Plan } from "./plan.ts";
import { PassTimer } from "./profile.ts";
import {
  adapterKey,
  defaultTuneCachePath,
  readTuneCache,
  SHIPPED_TUNING,
  shippedAdapterKey,
  tuneAdapterInfo,
  type TuneCacheFile,
  type TuneEntry,
  type TuneResult,
  type TuneTimer,
} from "./tune_cache.ts";
export {
  adapterKey,
  defaultTuneCachePath,
  hashText,
  readTuneCache,
  SHIPPED_TUNING,
  shippedAdapterKey,
  tuneAdapterInfo,
  type TuneCacheFile,
  type TuneCacheInfo,
  tuneCacheInfo,
  type TuneCachePath,
  tuneCachePath,
  type TuneEntry,
  type TuneResult,
  type TuneTimer,
} from "./tune_cache.ts";

/** How kernel variants are chosen: see the module documentation. */
export type TuneMode = "full" | "cached" | "off";

/** The tune modes, for flag parsing. */
export const TUNE_MODES: readonly TuneMode[] = ["full", "cached", "off"];

/**
 * A candidate's output may differ from the default variant's by at most this fraction of the
 * largest absolute value of the default's output (summation order differs between variants;
 * a wrong kernel is off by O(1)).
 */
export const TUNE_TOLERANCE = 1e-3;

/** One tuning run of a family at a shape: inputs on the GPU and how to record a variant. */
export interface TuneCase {
  /** Floating-point operations of one run (0 when not meaningful), for GFLOP/s. */
  flop: number;
  /** Buffers compared with the default variant's after one run. */
  outputs: { buffer: GPUBuffer; length: number }[];
  /** Records what must precede a checked run (zero an accumulated output, restore an input). */
  reset?(plan: Plan): void;
  /** Records one run of `variant`. */
  record(plan: Plan, variant: string): void;
}

/**
 * A kernel family: variants that compute the same thing, one of which is picked per shape.
 *
 * @typeParam S the shape (sizes) a launcher passes
 */
export interface TuneFamily<S> {
  /** Family name, e.g. `matmul_forward`. */
  readonly name: string;
  /** Hash of the family's kernel sources and candidate table ({@link hashText}). */
  readonly sourceHash: string;
  /** The shape as a key, e.g. `2048x288x768`. */
  shapeKey(shape: S): string;
  /** Variants that can run `shape` on `gpu` (the fallback among them). */
  candidates(gpu: Gpu, shape: S): readonly string[];
  /** The fixed default for `gpu`'s adapter class (what mode `off` picks). */
  fallback(gpu: Gpu, shape: S): string;
  /** Allocates random inputs of `shape` in `pool` for timing. */
  setup(gpu: Gpu, shape: S, pool: BufferPool): TuneCase;
}

/** One pick a launcher asked for, for reports. */
export interface TunePick {
  /** Family name. */
  family: string;
  /** Shape key. */
  shape: string;
  /** The variant used. */
  variant: string;
  /**
   * `cache` (tuned here), `shipped` (the shipped table's choice for this adapter),
   * `default` (the adapter class's default).
   */
  source: "cache" | "shipped" | "default";
}

/** Settings of {@link Tuner.configure}. */
export interface TunerConfig {
  /** How variants are picked. */
  mode: TuneMode;
  /** Cache file (default {@link defaultTuneCachePath}). */
  cachePath?: string;
  /** The shipped table (default {@link SHIPPED_TUNING}; null: none). */
  shipped?: TuneCacheFile | null;
  /** Seconds one {@link Tuner.tunePending} may spend (default 300); later keys keep defaults. */
  budgetS?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

const TARGET_MS = 150; // aim for this much GPU time per timed submit
const MAX_REPS = 10;
const SLOW = 3;
const SLOW_MIN_MS = 1000;

/**
 * A buffer of `n` deterministic pseudo-random f32 values in [-scale, scale) (xorshift32), for
 * tuning inputs.
 *
 * @param pool owner of the buffer
 * @param label buffer label
 * @param n number of f32 values
 * @param seed non-zero seed
 * @param scale half-width of the range
 */
export function tuneInput(
  pool: BufferPool,
  label: string,
  n: number,
  seed: number,
  scale = 1,
): GPUBuffer {
  const a = new Float32Array(n);
  let x = (seed >>> 0) || 1;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x >>> 0) * k - scale;
  }
  return pool.upload(label, a);
}

/**
 * Times a plan. On a CPU adapter: the CPU time of this process around the submit (llvmpipe's
 * worker threads included), which a shared, loaded machine disturbs far less than wall time
 * (measured here: wall GFLOP/s of one matmul varied 2x between runs, GFLOP per CPU-second by
 * 3%); a variant that left cores idle would not look slower by it, but every CPU candidate
 * gives the model's shapes hundreds of workgroups. On a GPU: the sum of its dispatches' GPU
 * times (each in its own timestamped pass, {@link PassTimer}) where the device has
 * `timestamp-query`, else the wall clock around `onSubmittedWorkDone`.
 */
class _Timer {
  #gpu: Gpu;
  /** How the last time was taken. */
  used: TuneTimer = "wall";

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** Milliseconds of one submit of `plan`. */
  async time(plan: Plan): Promise<number> {
    const d = this.#gpu.device;
    const cpu = this.#gpu.isCpu;
    this.used = "wall";
    using timer = !cpu && this.#gpu.timestamps ? new PassTimer(this.#gpu) : null;
    const enc = d.createCommandEncoder({ label: "tune" });
    plan.encode(enc, timer ?? undefined);
    timer?.resolve(enc);
    const t0 = performance.now(), c0 = process.cpuUsage();
    d.queue.submit([enc.finish()]);
    await d.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    if (cpu) {
      const c = process.cpuUsage(c0);
      const ms = (c.user + c.system) / 1000;
      if (ms > 0) {
        this.used = "cpu";
        return ms;
      }
      return wall;
    }
    if (!timer) return wall;
    let ms = 0;
    try {
      for (const p of await timer.read()) {
        ms += p.end >= p.begin ? Number(p.end - p.begin) / 1e6 : 0;
      }
    } catch {
      return wall; // every timestamp zero: a driver that does not implement them
    }
    // Never trust timestamps that claim more than the wall clock saw.
    if (!(ms > 0 && ms <= wall + 1)) return wall;
    this.used = "timestamp";
    return ms;
  }
}

/** The timer to report for an entry whose runs used `a` and `b` (wall if any fell back). */
function _worse(a: TuneTimer | null, b: TuneTimer): TuneTimer {
  return a === null ? b : a === b ? a : "wall";
}

/** Largest |a - b| over max |b|, over several outputs (Infinity for NaN). */
function _relDiff(got: Float32Array[], want: Float32Array[]): number {
  let maxDiff = 0, maxWant = 0;
  for (let o = 0; o < want.length; o++) {
    const g = got[o], w = want[o];
    for (let i = 0; i < w.length; i++) {
      const d = Math.abs(g[i] - w[i]);
      if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
      const a = Math.abs(w[i]);
      if (a > maxWant) maxWant = a;
    }
  }
  return maxWant > 0 ? maxDiff / maxWant : maxDiff;
}

/**
 * Picks kernel variants for one device and tunes them. Every {@link Gpu} has one
 * ({@link tunerFor}), in mode `off` until {@link Tuner.configure} is called.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { Plan } from "./plan.ts";
 * import { tunerFor } from "./tune.ts";
 *
 * using gpu = await acquireGpu();
 * const tuner = tunerFor(gpu);
 * await tuner.configure({ mode: "full" });
 * // Records once; tunes the kernels the recording asked for that the cache lacks; records again.
 * using plan = await tuner.build(() => new Plan(gpu, "step")); // (a Model, in real use)
 * console.log(tuner.picks());
 * ```
 */
export class Tuner {
  #gpu: Gpu;
  #mode: TuneMode = "off";
  #cachePath: string | null = null;
  #budgetS = 300;
  #log: (line: string) => void = (line) => console.error(line);
  #entries = new Map<string, TuneEntry>();
  #shipped = new Map<string, TuneEntry>();
  // deno-lint-ignore no-explicit-any
  #pending = new Map<string, { family: TuneFamily<any>; shape: unknown }>();
  #picks = new Map<string, TunePick>();

  /**
   * A tuner in mode `off` for `gpu`.
   *
   * @param gpu the device owner
   */
  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** The current mode. */
  get mode(): TuneMode {
    return this.#mode;
  }

  /** The cache file in use (null before {@link Tuner.configure} or in mode `off`). */
  get cachePath(): string | null {
    return this.#cachePath;
  }

  /** Number of (family, shape) keys picked with no cached answer, to tune in mode `full`. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The picks launchers asked for so far, by `family shape`. */
  picks(): TunePick[] {
    return [...this.#picks.values()];
  }

  /** The cached entries of this adapter (loaded or tuned in this process). */
  entries(): TuneEntry[] {
    return [...this.#entries.values()];
  }

  /** The shipped table's entries for this adapter (modes `cached` and `full`; stale ones too). */
  shippedEntries(): TuneEntry[] {
    return [...this.#shipped.values()];
  }

  /**
   * Sets the mode and loads this adapter's cache entries and shipped entries (modes `cached`
   * and `full`). An unreadable cache is reported on the log and ignored.
   *
   * @throws {RangeError} for an unknown mode
   */
  async configure(config: TunerConfig): Promise<void> {
    if (!TUNE_MODES.includes(config.mode)) {
      throw new RangeError(
        `Cannot configure the tuner: mode '${config.mode}' is not one of ${TUNE_MODES.join("|")}`,
      );
    }
    this.#mode = config.mode;
    if (config.budgetS !== undefined) this.#budgetS = config.budgetS;
    if (config.log) this.#log = config.log;
    this.#entries.clear();
    this.#shipped.clear();
    this.#pending.clear();
    this.#picks.clear();
    this.#cachePath = null;
    if (config.mode === "off") return;
    const shipped = config.shipped === undefined ? SHIPPED_TUNING : config.shipped;
    const ours = shipped?.adapters[shippedAdapterKey(tuneAdapterInfo(this.#gpu))];
    for (const [k, e] of Object.entries(ours?.entries ?? {})) this.#shipped.set(k, e);
    this.#cachePath = config.cachePath ?? defaultTuneCachePath();
    try {
      const file = await readTuneCache(this.#cachePath);
      const mine = file.adapters[adapterKey(this.#gpu)];
      for (const [k, e] of Object.entries(mine?.entries ?? {})) this.#entries.set(k, e);
    } catch (e) {
      this.#log(`warning: ignoring the tuning cache: ${(e as Error).message}`);
    }
  }

  /**
   * The variant of `family` to use at `shape` (synchronous; launchers call it while recording).
   * Mode `off`: the adapter class's default. Otherwise the cached choice when its source hash
   * matches and it can still run; else (in mode `full` the key is queued for
   * {@link Tuner.tunePending}) the shipped table's choice on the same conditions; else the
   * default.
   */
  pick<S>(family: TuneFamily<S>, shape: S): string {
    const key = `${family.name} ${family.shapeKey(shape)}`;
    let variant = family.fallback(this.#gpu, shape);
    let source: TunePick["source"] = "default";
    if (this.#mode !== "off") {
      const cands = family.candidates(this.#gpu, shape);
      const usable = (e: TuneEntry | undefined): e is TuneEntry =>
        e !== undefined && e.hash === family.sourceHash && cands.includes(e.variant);
      const e = this.#entries.get(key), s = this.#shipped.get(key);
      if (usable(e)) {
        variant = e.variant;
        source = "cache";
      } else {
        if (this.#mode === "full" && cands.length > 1) this.#pending.set(key, { family, shape });
        if (usable(s)) {
          variant = s.variant;
          source = "shipped";
        }
      }
    }
    this.#picks.set(key, { family: family.name, shape: family.shapeKey(shape), variant, source });
    return variant;
  }

  /**
   * Builds an object whose construction records kernels (a Model): once, and in mode `full`,
   * when it asked for keys the cache cannot answer, disposes it, tunes them
   * ({@link Tuner.tunePending}) and builds it again with the winners.
   *
   * @param make builds the object
   * @returns the object built with the final picks
   */
  async build<T extends Disposable>(make: () => T): Promise<T> {
    const first = make();
    if (this.#pending.size === 0) return first;
    first[Symbol.dispose]();
    await this.tunePending();
    return make();
  }

  /**
   * Tunes every queued key (within the time budget), then saves the cache.
   *
   * @returns the new entries
   */
  async tunePending(): Promise<TuneEntry[]> {
    const jobs = [...this.#pending.values()];
    this.#pending.clear();
    const deadline = performance.now() + this.#budgetS * 1000;
    const done: TuneEntry[] = [];
    for (const { family, shape } of jobs) {
      const e = await this.#tuneOne(family, shape, deadline);
      if (e) done.push(e);
    }
    await this.#save(done);
    return done;
  }

  /**
   * Tunes one key now (even when cached) and saves the cache.
   *
   * @returns the entry, or null when the shape has a single candidate
   */
  async tune<S>(family: TuneFamily<S>, shape: S): Promise<TuneEntry | null> {
    const e = await this.#tuneOne(family, shape, performance.now() + this.#budgetS * 1000);
    if (e) await this.#save([e]);
    return e;
  }

  async #tuneOne<S>(family: TuneFamily<S>, shape: S, deadline: number): Promise<TuneEntry | null> {
    const gpu = this.#gpu;
    const cands = family.candidates(gpu, shape);
    if (cands.length < 2) return null;
    const fallback = family.fallback(gpu, shape);
    const order = [fallback, ...cands.filter((c) => c !== fallback)];
    const sk = family.shapeKey(shape);
    using pool = new BufferPool(gpu);
    const timer = new _Timer(gpu);
    const tc = family.setup(gpu, shape, pool);
    const results: TuneResult[] = [];
    let ref: Float32Array[] | null = null;
    let bestWarm = Infinity;
    let timerKind: TuneTimer | null = null;
    for (const [i, variant] of order.entries()) {
      const tag = `tuning ${family.name} ${sk}: ${i + 1}/${order.length} ${variant}`;
      if (performance.now() > deadline) {
        results.push({ variant, ms: null, status: "skipped", note: "time budget" });
        this.#log(`${tag} skipped (time budget)`);
        continue;
      }
      let r: TuneResult;
      try {
        r = await this.#measure(tc, variant, timer, ref, bestWarm, (outs, warm) => {
          ref ??= outs;
          if (warm < bestWarm) bestWarm = warm;
        });
        if (r.status === "ok") timerKind = _worse(timerKind, timer.used);
      } catch (e) {
        r = { variant, ms: null, status: "error", note: (e as Error).message.split("\n")[0] };
        if (i === 0) {
          this.#log(`${tag} error: ${r.note}; keeping the default`);
          return null;
        }
      }
      results.push(r);
      this.#log(`${tag} ${r.ms === null ? "" : r.ms.toFixed(3) + " ms "}${r.status}`.trimEnd());
    }
    const ok = results.filter((r) => r.status === "ok" && r.ms !== null);
    if (ok.length === 0) return null;
    // A second look at the finalists (the two fastest and the default), timed again one after
    // another, each keeping its better time: on a shared machine one timing can be far off.
    const finalists = [...ok].sort((a, b) => a.ms! - b.ms!).slice(0, 2);
    if (ok[0].variant === fallback && !finalists.includes(ok[0])) finalists.push(ok[0]);
    if (finalists.length > 1 && performance.now() < deadline) {
      for (const r of finalists) {
        try {
          const again = await this.#retime(tc, r.variant, timer, r.ms!);
          r.ms = Math.min(r.ms!, Math.round(again * 1e4) / 1e4);
          timerKind = _worse(timerKind, timer.used);
        } catch {
          // keep the first time
        }
      }
      this.#log(
        `tuning ${family.name} ${sk}: again ` +
          finalists.map((r) => `${r.variant} ${r.ms!.toFixed(3)} ms`).join(", "),
      );
    }
    // Fastest; ties keep the earlier (the default first).
    const win = ok.reduce((a, b) => (b.ms! < a.ms! ? b : a));
    const entry: TuneEntry = {
      family: family.name,
      shape: sk,
      hash: family.sourceHash,
      variant: win.variant,
      fallback,
      timer: timerKind ?? "wall",
      gflop: tc.flop / 1e9,
      results,
      tunedAt: new Date().toISOString(),
    };
    this.#entries.set(`${family.name} ${sk}`, entry);
    const def = results[0].ms;
    this.#log(
      `tuned ${family.name} ${sk}: ${win.variant} ${win.ms!.toFixed(3)} ms` +
        (def !== null ? ` (default ${fallback} ${def.toFixed(3)} ms)` : ""),
    );
    return entry;
  }

  /** One candidate: a checked warm-up submit, then timed repetitions in one submit. */
  async #measure(
    tc: TuneCase,
    variant: string,
    timer: _Timer,
    ref: Float32Array[] | null,
    bestWarm: number,
    seen: (outputs: Float32Array[], warmMs: number) => void,
  ): Promise<TuneResult> {
    const gpu = this.#gpu;
    const d = gpu.device;
    using check = new Plan(gpu, "tune:check");
    d.pushErrorScope("validation");
    let err: GPUError | null;
    try {
      tc.reset?.(check);
      tc.record(check, variant);
    } finally {
      err = await d.popErrorScope();
    }
    if (err) throw new Error(err.message);
    await check.check();
    d.pushErrorScope("validation");
    let warm = await timer.time(check);
    const runErr = await d.popErrorScope();
    if (runErr) throw new Error(runErr.message);
    const outs = await Promise.all(tc.outputs.map((o) => readF32(gpu, o.buffer, 0, o.length)));
    if (ref) {
      const diff = _relDiff(outs, ref);
      if (!(diff <= TUNE_TOLERANCE)) {
        return { variant, ms: null, status: "mismatch", note: `relative difference ${diff}` };
      }
    }
    // (A warm-up includes the driver's lazy shader compile: up to ~1 s on a loaded CPU for most
    // kernels, below SLOW_MIN_MS it says little about speed, and timing is cheap anyway; over
    // 10 s for llvmpipe's largest unrolled tiles, so a warm-up that looks slow is run once more.)
    if (warm > SLOW * bestWarm && warm > SLOW_MIN_MS) {
      warm = Math.min(warm, await timer.time(check));
    }
    seen(outs, warm);
    if (warm > SLOW * bestWarm && warm > SLOW_MIN_MS) {
      return { variant, ms: Math.round(warm * 1e4) / 1e4, status: "slow" };
    }
    const reps = Math.max(1, Math.min(MAX_REPS, Math.ceil(TARGET_MS / Math.max(warm, 1e-3))));
    using timed = new Plan(gpu, "tune:timed");
    for (let r = 0; r < reps; r++) tc.record(timed, variant);
    await timed.check();
    let ms = Infinity;
    const runs = warm * reps < 2 * TARGET_MS ? 2 : 1;
    for (let run = 0; run < runs; run++) ms = Math.min(ms, (await timer.time(timed)) / reps);
    return { variant, ms: Math.round(ms * 1e4) / 1e4, status: "ok" };
  }

  /** Times `variant` once more: repetitions adding up to about TARGET_MS, in one submit. */
  async #retime(tc: TuneCase, variant: string, timer: _Timer, ms: number): Promise<number> {
    const reps = Math.max(1, Math.min(MAX_REPS, Math.ceil(TARGET_MS / Math.max(ms, 1e-3))));
    using timed = new Plan(this.#gpu, "tune:timed");
    for (let r = 0; r < reps; r++) tc.record(timed, variant);
    await timed.check();
    return (await timer.time(timed)) / reps;
  }

  async #save(entries: TuneEntry[]): Promise<void> {
    if (entries.length === 0 || !this.#cachePath) return;
    const path = this.#cachePath;
    try {
      let file: TuneCacheFile;
      try {
        file = await readTuneCache(path);
      } catch {
        file = { version: 1, adapters: {} }; // unreadable: replaced
      }
      const key = adapterKey(this.#gpu);
      const mine = (file.adapters[key] ??= { info: tuneAdapterInfo(this.#gpu), entries: {} });
      for (const e of entries) mine.entries[`${e.family} ${e.shape}`] = e;
      await Deno.mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(file, null, 1) + "\n"));
    } catch (e) {
      this.#log(`warning: cannot save the tuning cache ${path}: ${(e as Error).message}`);
    }
  }
}

/**
 * A text table of tuning entries: one row per candidate (milliseconds per run, GFLOP/s where
 * meaningful, status), the winner marked `*`, the adapter class's default marked `(default)`.
 * With timer `cpu` the milliseconds are the process's CPU time (all threads), so GFLOP/s is
 * per CPU-second.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { formatTuneTable, tunerFor } from "./tune.ts";
 *
 * using gpu = await acquireGpu();
 * console.error(formatTuneTable(tunerFor(gpu).entries()));
 * ```
 */
export function formatTuneTable(entries: readonly TuneEntry[]): string {
  const rows: string[][] = [["kernel", "shape", "timer", "variant", "ms", "GFLOP/s", "status"]];
  for (const e of entries) {
    e.results.forEach((r, i) => {
      const gf = r.ms !== null && e.gflop > 0 && r.status === "ok"
        ? (e.gflop / (r.ms / 1000)).toFixed(2)
        : "";
      rows.push([
        i === 0 ? e.family : "",
        i === 0 ? e.shape : "",
        i === 0 ? e.timer : "",
        `${r.variant === e.variant ? "*" : " "} ${r.variant}${
          r.variant === e.fallback ? " (default)" : ""
        }`,
        r.ms === null ? "-" : r.ms.toFixed(3),
        gf,
        r.status + (r.note && r.status !== "ok" ? `: ${r.note}` : ""),
      ]);
    });
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((s, c) => s.padEnd(widths[c])).join("  ").trimEnd()).join("\n");
}

const _tuners = new WeakMap<Gpu, Tuner>();

/**
 * The tuner of a device (made on first use, in mode `off`): launchers ask it for variants while
 * recording; commands configure it and build models through it.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { tunerFor } from "./tune.ts";
 *
 * using gpu = await acquireGpu();
 * await tunerFor(gpu).configure({ mode: "cached" });
 * console.log(tunerFor(gpu).mode); // "cached"
 * ```
 */
export function tunerFor(gpu: Gpu): Tuner {
  let t = _tuners.get(gpu);
  if (!t) {
    t = new Tuner(gpu);
    _tuners.set(gpu, t);
  }
  return t;
}
