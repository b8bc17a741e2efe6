/**
 * The tuning cache's side of the autotuner ({@link "./tune.ts"}): the cache file's format, where
 * it lives, how an adapter is keyed in it and in the shipped table, reading, summarising and
 * atomically rewriting it. `tune.ts` re-exports all of it.
 *
 * @module
 */
import { join } from "node:path";
import type { Gpu } from "./device.ts";
import SHIPPED from "./tune_shipped.json" with { type: "json" };

/** What happened to one candidate while tuning. */
export interface TuneResult {
  /** Variant name. */
  variant: string;
  /** Milliseconds per run (null when not timed). */
  ms: number | null;
  /**
   * `ok` (timed), `mismatch` (output differs from the default's), `slow` (its warm-up took
   * over 3x the fastest warm-up and over 1 s: not timed further; `ms` is the warm-up's), `error` (did not compile or run),
   * `skipped` (the time budget ran out).
   */
  status: "ok" | "mismatch" | "slow" | "error" | "skipped";
  /** Detail: the difference for a mismatch, the error message. */
  note?: string;
}

/** A cached tuning decision. */
export interface TuneEntry {
  /** Family name. */
  family: string;
  /** Shape key. */
  shape: string;
  /** The family's source hash when tuned. */
  hash: string;
  /** The winner. */
  variant: string;
  /** The adapter class's default at the time. */
  fallback: string;
  /** How times were taken. */
  timer: TuneTimer;
  /** GFLOP per run (0 when not meaningful). */
  gflop: number;
  /** Every candidate, in the order timed. */
  results: TuneResult[];
  /** ISO time of tuning. */
  tunedAt: string;
}

/** The cache file's contents. */
export interface TuneCacheFile {
  /** Format version (1). */
  version: number;
  /** Per adapter key: what the adapter reported, and entries keyed `family shape`. */
  adapters: Record<string, { info: Record<string, unknown>; entries: Record<string, TuneEntry> }>;
}

/** How a {@link TuneEntry}'s times were taken. */
export type TuneTimer = "timestamp" | "wall" | "cpu";

/**
 * A short non-cryptographic hash of a string (53-bit cyrb53, 14 hex digits).
 *
 * @example
 * ```ts
 * hashText("kernel source"); // e.g. "0a1b2c3d4e5f60"
 * ```
 */
export function hashText(s: string): string {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

function _env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Which rule chose the tuning cache file ({@link tuneCachePath}). */
export interface TuneCachePath {
  /** The file. */
  path: string;
  /** The rule: the flag, an environment variable, or the home directory. */
  rule: "--tune-cache" | "BABYLLAMA_TUNE_CACHE" | "XDG_CACHE_HOME" | "HOME" | "USERPROFILE" | "cwd";
  /** A variable that was set but not used (`XDG_CACHE_HOME` not absolute), else null. */
  ignored: string | null;
}

/**
 * Where the tuning cache lives, and why: `flag` (a `--tune-cache` value) when given, else
 * `$BABYLLAMA_TUNE_CACHE`, else `$XDG_CACHE_HOME/babyllama/tune.json` (an absolute
 * `XDG_CACHE_HOME` only, as the XDG spec says), else `~/.cache/babyllama/tune.json`.
 *
 * @param flag the `--tune-cache` value, if any
 * @param env reads an environment variable (default: the process environment; tests pass their
 *   own instead of changing the process's, which parallel test files share)
 * @example
 * ```ts
 * console.log(tuneCachePath()); // { path: "/home/me/.cache/babyllama/tune.json", rule: "HOME", ignored: null }
 * ```
 */
export function tuneCachePath(
  flag?: string,
  env: (name: string) => string | undefined = _env,
): TuneCachePath {
  if (flag) return { path: flag, rule: "--tune-cache", ignored: null };
  const _env = (name: string) => env(name) || undefined;
  const explicit = _env("BABYLLAMA_TUNE_CACHE");
  if (explicit) return { path: explicit, rule: "BABYLLAMA_TUNE_CACHE", ignored: null };
  const xdg = _env("XDG_CACHE_HOME");
  if (xdg && xdg.startsWith("/")) {
    return { path: join(xdg, "babyllama", "tune.json"), rule: "XDG_CACHE_HOME", ignored: null };
  }
  const ignored = xdg ? `XDG_CACHE_HOME=${xdg} (not absolute)` : null;
  const home = _env("HOME"), profile = _env("USERPROFILE");
  const rule = home ? "HOME" : profile ? "USERPROFILE" : "cwd";
  return { path: join(home ?? profile ?? ".", ".cache", "babyllama", "tune.json"), rule, ignored };
}

/**
 * Where the tuning cache lives: `$BABYLLAMA_TUNE_CACHE`, else
 * `$XDG_CACHE_HOME/babyllama/tune.json`, else `~/.cache/babyllama/tune.json`
 * ({@link tuneCachePath} says which rule applied).
 *
 * @example
 * ```ts
 * console.log(defaultTuneCachePath()); // /home/me/.cache/babyllama/tune.json
 * ```
 */
export function defaultTuneCachePath(): string {
  return tuneCachePath().path;
}

/** What identifies an adapter in the cache, as a readable record. */
export function tuneAdapterInfo(gpu: Gpu): Record<string, string | number | boolean> {
  const i = gpu.adapterInfo;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    subgroupMinSize: i.subgroupMinSize,
    subgroupMaxSize: i.subgroupMaxSize,
    isFallbackAdapter: i.isFallbackAdapter,
    features: hashText([...gpu.adapter.features].sort().join(",")),
    deno: Deno.version.deno,
  };
}

/**
 * The cache key of `gpu`'s adapter: vendor, architecture, device, description, subgroup sizes,
 * a hash of its feature list (which tells Vulkan from GL on the same driver) and the Deno
 * version (whose wgpu compiles the kernels). WebGPU exposes no driver version.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { adapterKey } from "./tune_cache.ts";
 *
 * using gpu = await acquireGpu();
 * console.log(adapterKey(gpu)); // "65541//0/llvmpipe (LLVM 15.0.6, 256 bits)/sg 8-8/f .../deno 2.9.6"
 * ```
 */
export function adapterKey(gpu: Gpu): string {
  const a = tuneAdapterInfo(gpu);
  return `${a.vendor}/${a.architecture}/${a.device}/${a.description}/sg ${a.subgroupMinSize}-${a.subgroupMaxSize}/f ${a.features}/deno ${a.deno}`;
}

/**
 * The key of an adapter in the shipped table: vendor, architecture, device, description and
 * subgroup sizes, from {@link tuneAdapterInfo} (or a cache file's `info`). Unlike
 * {@link adapterKey} it leaves out the Deno version and the feature-list hash, which change with
 * every Deno release (and the features also with the backend): a shipped entry applies to the
 * same GPU model under another Deno, while the family's source hash in each entry (checked at
 * every pick) keeps kernels that changed since from using it. The worst a loose match does is
 * pick a slower variant: every candidate computes the same result, and a variant this device
 * cannot run is never picked.
 *
 * @param info what {@link tuneAdapterInfo} returns, or a cache file's `info` record
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { shippedAdapterKey, tuneAdapterInfo } from "./tune_cache.ts";
 *
 * using gpu = await acquireGpu();
 * console.log(shippedAdapterKey(tuneAdapterInfo(gpu))); // "4318//8989/NVIDIA H200/sg 32-32"
 * ```
 */
export function shippedAdapterKey(info: Record<string, unknown>): string {
  const f = (k: string) => String(info[k] ?? "");
  return `${f("vendor")}/${f("architecture")}/${f("device")}/${f("description")}/sg ${
    f("subgroupMinSize")
  }-${f("subgroupMaxSize")}`;
}

/** Checks that `data` has the shape of a version 1 tuning cache (or shipped table). */
function _checkTuneFile(data: unknown, what: string): TuneCacheFile {
  const d = data as TuneCacheFile;
  if (d?.version !== 1 || typeof d.adapters !== "object" || d.adapters === null) {
    throw new SyntaxError(`Cannot read ${what}: not a version 1 tuning cache`);
  }
  return d;
}

/**
 * The tuning table shipped with babyllama (`src/gpu/tune_shipped.json`): winners measured on
 * known GPUs (merged from a GPU machine's tuning cache by `tools/ship_tuning.ts`), keyed by
 * {@link shippedAdapterKey}. The tuner uses an entry when the cache has none for that kernel
 * and shape and the entry's source hash matches the kernels (see {@link Tuner.pick}).
 */
export const SHIPPED_TUNING: TuneCacheFile = _checkTuneFile(SHIPPED, "the shipped tuning table");

/**
 * Reads a tuning cache file; a missing file is an empty cache.
 *
 * @param path the file (default {@link defaultTuneCachePath})
 * @throws {SyntaxError} when the file is not a tuning cache
 */
export async function readTuneCache(path: string = defaultTuneCachePath()): Promise<TuneCacheFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { version: 1, adapters: {} };
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Cannot read tuning cache ${path}: ${(e as Error).message}`);
  }
  return _checkTuneFile(data, `tuning cache ${path}`);
}

/** What {@link tuneCacheInfo} reports (for `doctor`). */
export interface TuneCacheInfo {
  /** The cache file. */
  path: string;
  /** Whether it exists. */
  exists: boolean;
  /** Why it could not be read, if so. */
  error?: string;
  /** Adapters with entries. */
  adapters: number;
  /** This adapter's key (when a Gpu was given). */
  adapter?: string;
  /** This adapter's entries (every adapter's when no Gpu was given). */
  entries: TuneEntry[];
}

/**
 * Summarises the tuning cache: its location and the entries for `gpu`'s adapter.
 *
 * @param gpu the adapter whose entries to list (all adapters' when omitted)
 * @param path the cache file (default {@link defaultTuneCachePath})
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 * import { tuneCacheInfo } from "./tune_cache.ts";
 *
 * using gpu = await acquireGpu();
 * const info = await tuneCacheInfo(gpu);
 * console.log(info.path, info.entries.map((e) => `${e.family} ${e.shape}: ${e.variant}`));
 * ```
 */
export async function tuneCacheInfo(
  gpu?: Gpu,
  path: string = defaultTuneCachePath(),
): Promise<TuneCacheInfo> {
  let exists = false;
  try {
    exists = (await Deno.stat(path)).isFile;
  } catch {
    // missing
  }
  let file: TuneCacheFile = { version: 1, adapters: {} };
  let error: string | undefined;
  try {
    file = await readTuneCache(path);
  } catch (e) {
    error = (e as Error).message;
  }
  const key = gpu ? adapterKey(gpu) : undefined;
  const entries = Object.entries(file.adapters)
    .filter(([k]) => key === undefined || k === key)
    .flatMap(([, a]) => Object.values(a.entries));
  return {
    path,
    exists,
    ...(error ? { error } : {}),
    adapters: Object.keys(file.adapters).length,
    ...(key ? { adapter: key } : {}),
    entries,
  };
}
