/**
 * Merges tuning caches (such as the `tune.json` that `tools/device_check.sh` brings back from a
 * GPU machine in `$OUT`) into the shipped tuning table `src/gpu/tune_shipped.json`, which the
 * tuner falls back on where the local cache has no answer.
 *
 * usage: deno run -A tools/ship_tuning.ts CACHE.json [CACHE.json ...] [--table PATH] [--dry-run]
 *
 * - Entries are re-keyed by the loose adapter key (`shippedAdapterKey`: vendor, architecture,
 *   device, description, subgroup sizes; no Deno version, no feature hash).
 * - Only entries whose source hash matches the current kernels are kept (others would be
 *   ignored by the tuner anyway); stale entries already in the table are dropped too.
 * - CPU adapters (fallback, llvmpipe, lavapipe, SwiftShader) are not shipped: their description
 *   names the LLVM version and vector width, not the CPU, and the winning tile differs between
 *   CPUs that report the same description (Zen 1 and Zen 5 here).
 * - Where the table and a cache both have an entry for a kernel and shape, the later `tunedAt`
 *   wins.
 *
 * Prints one line per adapter and a summary; `--dry-run` writes nothing. Exit 1 with one line
 * for an unreadable file, 2 for bad usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  readTuneCache,
  shippedAdapterKey,
  type TuneCacheFile,
  type TuneEntry,
} from "../src/gpu/tune.ts";
import { TUNE_FAMILY_HASHES } from "../src/cli/tune.ts";
import { writeFileAtomic } from "../src/util/atomic.ts";

/** The shipped table in this checkout. */
export const SHIPPED_TABLE_PATH: string = fileURLToPath(
  new URL("../src/gpu/tune_shipped.json", import.meta.url),
);

/** What happened to one adapter of one cache. */
export interface ShipLine {
  /** The cache's name for the adapter (its full key). */
  adapter: string;
  /** The shipped table's key, or null when not shipped. */
  shippedKey: string | null;
  /** Why it was not shipped at all (a CPU adapter), else null. */
  skipped: string | null;
  /** Entries new to the table. */
  added: number;
  /** Entries that replaced an older one. */
  replaced: number;
  /** Entries the table already had, identical. */
  same: number;
  /** Entries left out because the table has a newer one. */
  older: number;
  /** Entries left out because their kernels changed since (source hash differs). */
  stale: number;
  /** Entries of a family that no longer exists, or malformed. */
  unknown: number;
}

/** The result of {@link shipTuning}. */
export interface ShipResult {
  /** The new table (keys sorted). */
  table: TuneCacheFile;
  /** One line per adapter of each cache, in order. */
  lines: ShipLine[];
  /** Entries dropped from the old table because their kernels changed (or vanished). */
  droppedFromTable: number;
  /** Whether the table differs from the old one. */
  changed: boolean;
}

/** Whether a cache's adapter record is a CPU implementation (as `isCpuAdapter` decides). */
function _isCpu(info: Record<string, unknown>): boolean {
  return info.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader/i.test(String(info.description ?? ""));
}

function _wellFormed(e: unknown): e is TuneEntry {
  const x = e as TuneEntry;
  return typeof x === "object" && x !== null && typeof x.family === "string" &&
    typeof x.shape === "string" && typeof x.hash === "string" && typeof x.variant === "string";
}

function _sorted(t: TuneCacheFile): TuneCacheFile {
  const adapters: TuneCacheFile["adapters"] = {};
  for (const k of Object.keys(t.adapters).sort()) {
    const a = t.adapters[k];
    const entries: Record<string, TuneEntry> = {};
    for (const ek of Object.keys(a.entries).sort()) entries[ek] = a.entries[ek];
    if (Object.keys(entries).length > 0) adapters[k] = { info: a.info, entries };
  }
  return { version: 1, adapters };
}

/**
 * Merges `caches` into `table`, keeping only entries of GPU adapters whose source hash equals
 * `hashes[family]`, keyed by {@link shippedAdapterKey}; also drops the table's stale entries.
 * Pure: neither argument is changed.
 *
 * @param table the shipped table now
 * @param caches tuning cache files, merged in order
 * @param hashes the current source hash of every kernel family, by name
 * @example
 * ```ts
 * import { shipTuning } from "./ship_tuning.ts";
 *
 * const r = shipTuning({ version: 1, adapters: {} }, [], {});
 * console.log(r.changed); // false
 * ```
 */
export function shipTuning(
  table: TuneCacheFile,
  caches: readonly TuneCacheFile[],
  hashes: Readonly<Record<string, string>>,
): ShipResult {
  const current = (e: unknown) => _wellFormed(e) && hashes[e.family] === e.hash;
  const out: TuneCacheFile = { version: 1, adapters: {} };
  let droppedFromTable = 0;
  for (const [k, a] of Object.entries(table.adapters)) {
    const entries: Record<string, TuneEntry> = {};
    for (const [ek, e] of Object.entries(a.entries)) {
      if (current(e)) entries[ek] = e;
      else droppedFromTable++;
    }
    out.adapters[k] = { info: a.info, entries };
  }
  const lines: ShipLine[] = [];
  for (const cache of caches) {
    for (const [key, a] of Object.entries(cache.adapters)) {
      const info = (a.info ?? {}) as Record<string, unknown>;
      const line: ShipLine = {
        adapter: key,
        shippedKey: null,
        skipped: null,
        added: 0,
        replaced: 0,
        same: 0,
        older: 0,
        stale: 0,
        unknown: 0,
      };
      lines.push(line);
      if (_isCpu(info)) {
        line.skipped = "a CPU adapter: its description does not identify the CPU, whose best " +
          "tiles differ between CPUs";
        continue;
      }
      const sk = shippedAdapterKey(info);
      line.shippedKey = sk;
      for (const e of Object.values(a.entries ?? {})) {
        if (!_wellFormed(e) || hashes[e.family] === undefined) {
          line.unknown++;
          continue;
        }
        if (hashes[e.family] !== e.hash) {
          line.stale++;
          continue;
        }
        const slot = (out.adapters[sk] ??= { info, entries: {} });
        const ek = `${e.family} ${e.shape}`;
        const old = slot.entries[ek];
        if (old && String(old.tunedAt) > String(e.tunedAt)) {
          line.older++;
          continue;
        }
        if (!old) line.added++;
        else if (JSON.stringify(old) === JSON.stringify(e)) line.same++;
        else line.replaced++;
        slot.entries[ek] = e;
        slot.info = info;
      }
    }
  }
  const sorted = _sorted(out);
  const changed = JSON.stringify(sorted) !== JSON.stringify(_sorted(table));
  return { table: sorted, lines, droppedFromTable, changed };
}

/** The table as the file holds it (2-space JSON, as `deno fmt` keeps it). */
export function formatShippedTable(table: TuneCacheFile): string {
  return JSON.stringify(table, null, 2) + "\n";
}

function _describe(line: ShipLine, cache: TuneCacheFile): string {
  const info = (cache.adapters[line.adapter]?.info ?? {}) as Record<string, unknown>;
  const name = String(info.description || line.adapter);
  if (line.skipped) return `'${name}': not shipped: ${line.skipped}`;
  const parts = [`${line.added} added`, `${line.replaced} replaced`];
  if (line.same) parts.push(`${line.same} already there`);
  if (line.older) parts.push(`${line.older} older than the table's`);
  parts.push(`${line.stale} stale (kernels changed since)`);
  if (line.unknown) parts.push(`${line.unknown} of unknown kernels`);
  return `'${name}' (as ${line.shippedKey}): ${parts.join(", ")}`;
}

if (import.meta.main) {
  const fail = (msg: string, code: number): never => {
    console.error(`error: ${msg}`);
    Deno.exit(code);
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        table: { type: "string", default: SHIPPED_TABLE_PATH },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    fail(`Cannot ship tuning: ${(e as Error).message}`, 2);
  }
  const { values, positionals } = parsed!;
  const usage =
    "usage: deno run -A tools/ship_tuning.ts CACHE.json [CACHE.json ...] [--table PATH] [--dry-run]";
  if (values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  if (positionals.length === 0) fail(`Cannot ship tuning: no cache file given (${usage})`, 2);
  const tablePath = values.table!;
  // A missing file is an error here (readTuneCache reads it as an empty cache).
  const read = async (p: string) => {
    try {
      await Deno.stat(p);
    } catch (e) {
      fail(`Cannot ship tuning: cannot read ${p}: ${(e as Error).name}`, 1);
    }
    try {
      return await readTuneCache(p);
    } catch (e) {
      return fail(`Cannot ship tuning: ${(e as Error).message.split("\n")[0]}`, 1);
    }
  };
  const table = await read(tablePath);
  const caches: TuneCacheFile[] = [];
  for (const p of positionals) caches.push(await read(p));
  const r = shipTuning(table, caches, TUNE_FAMILY_HASHES);
  let i = 0;
  positionals.forEach((p, c) => {
    for (const _ of Object.keys(caches[c].adapters)) {
      console.log(`ship_tuning: ${p}: ${_describe(r.lines[i++], caches[c])}`);
    }
    if (Object.keys(caches[c].adapters).length === 0) console.log(`ship_tuning: ${p}: no adapters`);
  });
  if (r.droppedFromTable > 0) {
    console.log(`ship_tuning: ${r.droppedFromTable} stale entries dropped from the table`);
  }
  const n = Object.values(r.table.adapters).reduce((s, a) => s + Object.keys(a.entries).length, 0);
  const what = `${Object.keys(r.table.adapters).length} adapters, ${n} entries`;
  if (!r.changed) console.log(`ship_tuning: ${tablePath} unchanged (${what})`);
  else if (values["dry-run"]) console.log(`ship_tuning: would write ${tablePath} (${what})`);
  else {
    try {
      await writeFileAtomic(tablePath, new TextEncoder().encode(formatShippedTable(r.table)));
    } catch (e) {
      fail(`Cannot write ${tablePath}: ${(e as Error).message.split("\n")[0]}`, 1);
    }
    console.log(`ship_tuning: wrote ${tablePath} (${what})`);
  }
}
