/**
 * `doctor`'s tuning section: the tune mode commands use by default, the tuning cache (where, why
 * there, readable or not) and this adapter's entries in it and in the shipped table, each marked
 * current or stale.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import {
  adapterKey,
  SHIPPED_TUNING,
  shippedAdapterKey,
  tuneAdapterInfo,
  tuneCacheInfo,
  tuneCachePath,
  type TuneEntry,
  type TuneMode,
} from "../gpu/tune.ts";
import { TUNE_FAMILY_HASHES, tuneMode } from "./tune.ts";

function _envSet(name: string): boolean {
  try {
    return !!Deno.env.get(name);
  } catch {
    return false;
  }
}

/** One tuning decision, as `doctor` lists it. */
export interface TuningRow {
  /** Kernel family. */
  family: string;
  /** Shape key. */
  shape: string;
  /** The winner. */
  variant: string;
  /** The adapter class's default when it was tuned. */
  default: string;
  /** How its times were taken (`cpu`, `timestamp`, `wall`). */
  timer: string;
  /** When it was tuned (ISO time). */
  tuned_at: string;
  /**
   * `current`: the family's kernels still hash as when it was tuned (the tuner uses it);
   * `stale`: they changed since (the tuner ignores it; `--tune full` tunes the key again);
   * `unknown`: no such family now.
   */
  state: "current" | "stale" | "unknown";
}

/** The tuning section of `doctor`'s report. */
export interface TuningCacheReport {
  /** The mode `train`, `sample`, `eval` and `bench` use without `--tune` (null: invalid). */
  mode: TuneMode | null;
  /** Where the mode comes from: `BABYLLAMA_TUNE`, or `default`; or why it is invalid. */
  mode_source: string;
  /** The cache file. */
  path: string;
  /** Which rule chose it: `--tune-cache`, `BABYLLAMA_TUNE_CACHE`, `XDG_CACHE_HOME`, `HOME`, ... */
  rule: string;
  /** A variable that was set but not used (a relative `XDG_CACHE_HOME`), else null. */
  ignored: string | null;
  /** Whether the file exists. */
  exists: boolean;
  /** Why it cannot be read (the tuner then ignores it), else null. */
  error: string | null;
  /** Adapters with entries in the file. */
  adapters: number;
  /** This adapter's cache key (null without an adapter). */
  adapter_key: string | null;
  /** This adapter's cached entries. */
  entries: TuningRow[];
  /** The shipped table (`src/gpu/tune_shipped.json`): adapters it has, this adapter's entries. */
  shipped: { adapters: number; adapter_key: string | null; entries: TuningRow[] };
}

function _tuningRows(entries: readonly TuneEntry[]): TuningRow[] {
  return entries.map((e): TuningRow => {
    const now = TUNE_FAMILY_HASHES[e.family];
    return {
      family: e.family,
      shape: e.shape,
      variant: e.variant,
      default: e.fallback,
      timer: e.timer,
      tuned_at: e.tunedAt,
      state: now === undefined ? "unknown" : now === e.hash ? "current" : "stale",
    };
  }).sort((a, b) => a.family.localeCompare(b.family) || a.shape.localeCompare(b.shape));
}

/**
 * The tuning section: the mode commands use by default, the cache file (and which rule chose
 * it), whether it exists or can be read, and this adapter's entries there and in the shipped
 * table, each marked current or stale against the kernels' source hashes now.
 *
 * @param gpu the device (null: no adapter; only the file is reported)
 * @param cacheFlag a `--tune-cache` value
 */
export async function tuningCacheReport(
  gpu: Gpu | null,
  cacheFlag?: string,
): Promise<TuningCacheReport> {
  let mode: TuneMode | null = null;
  let modeSource = _envSet("BABYLLAMA_TUNE") ? "BABYLLAMA_TUNE" : "default";
  try {
    mode = tuneMode({});
  } catch (e) {
    modeSource = (e as Error).message;
  }
  const where = tuneCachePath(cacheFlag);
  const info = await tuneCacheInfo(gpu ?? undefined, where.path);
  const shippedKey = gpu ? shippedAdapterKey(tuneAdapterInfo(gpu)) : null;
  const shipped = shippedKey ? SHIPPED_TUNING.adapters[shippedKey] : undefined;
  return {
    mode,
    mode_source: modeSource,
    path: where.path,
    rule: where.rule,
    ignored: where.ignored,
    exists: info.exists,
    error: info.error ?? null,
    adapters: info.adapters,
    adapter_key: gpu ? adapterKey(gpu) : null,
    entries: gpu ? _tuningRows(info.entries) : [],
    shipped: {
      adapters: Object.keys(SHIPPED_TUNING.adapters).length,
      adapter_key: shippedKey,
      entries: _tuningRows(Object.values(shipped?.entries ?? {})),
    },
  };
}

const RULES: Record<string, string> = {
  "--tune-cache": "--tune-cache",
  BABYLLAMA_TUNE_CACHE: "$BABYLLAMA_TUNE_CACHE",
  XDG_CACHE_HOME: "$XDG_CACHE_HOME/babyllama/tune.json; $BABYLLAMA_TUNE_CACHE unset",
  HOME: "~/.cache/babyllama/tune.json; $BABYLLAMA_TUNE_CACHE and $XDG_CACHE_HOME unset",
  USERPROFILE: "%USERPROFILE%\\.cache\\babyllama\\tune.json; no $HOME",
  cwd: "./.cache/babyllama/tune.json; no $HOME",
};

function _tuningTable(rows: readonly TuningRow[]): string[] {
  const cells = rows.map((e) => [
    e.family,
    e.shape,
    e.variant,
    `default ${e.default}`,
    e.timer,
    e.tuned_at.replace(/\.\d+Z$/, "Z"),
    e.state,
  ]);
  const w = cells[0]?.map((_, c) => Math.max(...cells.map((r) => r[c].length))) ?? [];
  return cells.map((r) => "  " + r.map((x, c) => x.padEnd(w[c])).join("  ").trimEnd());
}

function _counts(rows: readonly TuningRow[]): string {
  const n = (s: TuningRow["state"]) => rows.filter((e) => e.state === s).length;
  const parts = [`${n("current")} current`, `${n("stale")} stale`];
  if (n("unknown") > 0) parts.push(`${n("unknown")} of unknown kernels`);
  return parts.join(", ");
}

/**
 * Writes the tuning section as `doctor` prints it.
 *
 * @param t the section
 * @param row writes a titled line
 * @param more writes a continuation line
 */
export function formatTuningSection(
  t: TuningCacheReport,
  row: (k: string, v: string) => void,
  more: (v: string) => void,
): void {
  row(
    "tuning",
    t.mode === null
      ? `mode invalid: ${t.mode_source}`
      : `mode ${t.mode} (${
        t.mode_source === "default" ? "default; $BABYLLAMA_TUNE unset" : "$BABYLLAMA_TUNE"
      })`,
  );
  more(
    `cache ${t.path} (${RULES[t.rule] ?? t.rule}${t.ignored ? `; ignored ${t.ignored}` : ""}): ` +
      (t.error ? `unreadable: ${t.error}` : t.exists ? "exists" : "missing"),
  );
  if (t.adapter_key !== null && !t.error && t.exists) {
    const others = t.adapters - (t.entries.length > 0 ? 1 : 0);
    more(
      `  ${t.entries.length} entries for this adapter (${_counts(t.entries)}), ${others} other ` +
        `adapter${others === 1 ? "" : "s"} in the file`,
    );
    for (const l of _tuningTable(t.entries)) more(l);
  }
  const s = t.shipped;
  if (s.adapter_key !== null) {
    more(
      `shipped table (src/gpu/tune_shipped.json, ${s.adapters} adapter${
        s.adapters === 1 ? "" : "s"
      }): ` + (s.entries.length === 0
        ? `no entries for this adapter (${s.adapter_key})`
        : `${s.entries.length} entries for this adapter (${_counts(s.entries)})`),
    );
    for (const l of _tuningTable(s.entries)) more(l);
  }
}
