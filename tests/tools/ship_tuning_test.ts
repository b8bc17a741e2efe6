/**
 * tools/ship_tuning.ts: merges tuning caches into the shipped table under the loose adapter key,
 * keeps only entries whose source hash is current (dropping the table's stale ones too), never
 * ships CPU adapters, keeps the newer of two entries; the command writes a file `deno fmt`
 * accepts, and fails with one line on bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatShippedTable, shipTuning } from "../../tools/ship_tuning.ts";
import {
  readTuneCache,
  shippedAdapterKey,
  type TuneCacheFile,
  type TuneEntry,
} from "../../src/gpu/tune.ts";
import { TUNE_FAMILY_HASHES } from "../../src/cli/tune.ts";
import { REPO_ROOT } from "../helpers/data.ts";

const HASHES = { fam_a: "aaaaaaaaaaaaaa", fam_b: "bbbbbbbbbbbbbb" };

function entry(family: string, shape: string, variant: string, tunedAt: string, hash?: string) {
  return {
    family,
    shape,
    hash: hash ?? (HASHES as Record<string, string>)[family] ?? "00000000000000",
    variant,
    fallback: "v0",
    timer: "timestamp",
    gflop: 1,
    results: [{ variant, ms: 1, status: "ok" }],
    tunedAt,
  } as TuneEntry;
}

function gpuInfo(deno: string, features: string, description = "NVIDIA H200") {
  return {
    vendor: "4318",
    architecture: "",
    device: "8989",
    description,
    subgroupMinSize: 32,
    subgroupMaxSize: 32,
    isFallbackAdapter: false,
    features,
    deno,
  };
}

const byKey = (...es: TuneEntry[]) =>
  Object.fromEntries(es.map((e) => [`${e.family} ${e.shape}`, e]));

Deno.test("shipTuning merges GPU entries under the loose key, keeps current hashes and newer entries, skips CPU adapters", () => {
  const h200 = shippedAdapterKey(gpuInfo("2.9.6", "f1"));
  assert.equal(h200, "4318//8989/NVIDIA H200/sg 32-32");
  const T1 = "2026-01-01T00:00:00.000Z", T2 = "2026-02-01T00:00:00.000Z";
  const table: TuneCacheFile = {
    version: 1,
    adapters: {
      [h200]: {
        info: gpuInfo("2.9.5", "f0"),
        entries: byKey(
          entry("fam_a", "s1", "old", T1), // replaced by a newer one
          entry("fam_a", "s2", "kept", T2), // newer than the cache's: kept
          entry("fam_b", "s1", "stale", T1, "not-the-current"), // dropped: stale
        ),
      },
    },
  };
  const cache: TuneCacheFile = {
    version: 1,
    adapters: {
      "4318//8989/NVIDIA H200/sg 32-32/f f1/deno 2.9.6": {
        info: gpuInfo("2.9.6", "f1"),
        entries: byKey(
          entry("fam_a", "s1", "new", T2),
          entry("fam_a", "s2", "older", T1),
          entry("fam_b", "s3", "added", T2),
          entry("fam_b", "s4", "stale", T2, "not-the-current"),
          entry("fam_gone", "s1", "x", T2),
        ),
      },
      // The same GPU model under another Deno and feature list: the same shipped adapter.
      "4318//8989/NVIDIA H200/sg 32-32/f f2/deno 2.9.7": {
        info: gpuInfo("2.9.7", "f2"),
        entries: byKey(entry("fam_b", "s5", "also", T2)),
      },
      "65541//0/llvmpipe (LLVM 15.0.6, 256 bits)/sg 8-8/f f3/deno 2.9.6": {
        info: {
          ...gpuInfo("2.9.6", "f3", "llvmpipe (LLVM 15.0.6, 256 bits)"),
          isFallbackAdapter: true,
        },
        entries: byKey(entry("fam_a", "s9", "cpu", T2)),
      },
    },
  };
  const before = JSON.stringify(table);
  const r = shipTuning(table, [cache], HASHES);
  assert.equal(JSON.stringify(table), before, "the input table was changed");
  assert.deepEqual(Object.keys(r.table.adapters), [h200]);
  const got = Object.fromEntries(
    Object.entries(r.table.adapters[h200].entries).map(([k, e]) => [k, e.variant]),
  );
  assert.deepEqual(got, {
    "fam_a s1": "new",
    "fam_a s2": "kept",
    "fam_b s3": "added",
    "fam_b s5": "also",
  });
  assert.equal(r.droppedFromTable, 1);
  assert.equal(r.changed, true);
  assert.deepEqual(
    r.lines.map((l) => [l.added, l.replaced, l.older, l.stale, l.unknown, l.skipped !== null]),
    [[1, 1, 1, 1, 1, false], [1, 0, 0, 0, 0, false], [0, 0, 0, 0, 0, true]],
  );
  assert.match(r.lines[2].skipped!, /CPU adapter/);
  assert.equal(r.table.adapters[h200].info.deno, "2.9.7"); // the last merged run's
  // Merging the result again changes nothing.
  const again = shipTuning(r.table, [cache], HASHES);
  assert.equal(again.changed, false);
  assert.equal(again.lines[0].same, 2);
  // A table of nothing but stale entries empties.
  assert.deepEqual(shipTuning(table, [], { fam_a: "new-kernels" }).table.adapters, {});
});

async function ship(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "tools", "ship_tuning.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("ship_tuning.ts writes the merged table (deno fmt clean), --dry-run writes nothing, bad input is one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tablePath = join(dir, "tune_shipped.json"), cachePath = join(dir, "tune.json");
    await Deno.writeTextFile(tablePath, '{ "version": 1, "adapters": {} }\n');
    const hash = TUNE_FAMILY_HASHES.matmul_forward;
    const cache: TuneCacheFile = {
      version: 1,
      adapters: {
        "h200 full key": {
          info: gpuInfo("2.9.6", "f1"),
          entries: byKey(
            entry(
              "matmul_forward",
              "8192x288x768",
              "tile_16x16_4x4",
              "2026-03-01T00:00:00.000Z",
              hash,
            ),
            entry("matmul_forward", "1x2x3", "tile_8x8_4x4", "2026-03-01T00:00:00.000Z", "stale"),
          ),
        },
      },
    };
    await Deno.writeTextFile(cachePath, JSON.stringify(cache));

    let r = await ship([cachePath, "--table", tablePath, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /'NVIDIA H200' \(as 4318\/\/8989\/NVIDIA H200\/sg 32-32\): 1 added, 0 replaced, 1 stale/,
    );
    assert.match(r.stdout, /would write .*\(1 adapters, 1 entries\)/);
    assert.equal(await Deno.readTextFile(tablePath), '{ "version": 1, "adapters": {} }\n');

    r = await ship([cachePath, "--table", tablePath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*tune_shipped\.json \(1 adapters, 1 entries\)/);
    const written = await readTuneCache(tablePath);
    const want = shipTuning({ version: 1, adapters: {} }, [cache], TUNE_FAMILY_HASHES).table;
    assert.deepEqual(written, want);
    assert.equal(await Deno.readTextFile(tablePath), formatShippedTable(want));
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--check", tablePath],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(fmt.code, 0, new TextDecoder().decode(fmt.stderr));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "tune.json",
      "tune_shipped.json",
    ]);

    r = await ship([cachePath, "--table", tablePath]);
    assert.match(r.stdout, /unchanged/);

    r = await ship([join(dir, "missing.json"), "--table", tablePath]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Cannot ship tuning: cannot read .*missing\.json: NotFound\n$/);
    await Deno.writeTextFile(join(dir, "bad.json"), "{}");
    r = await ship([join(dir, "bad.json"), "--table", tablePath]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: Cannot ship tuning: Cannot read tuning cache .*bad\.json: not a version 1 tuning cache\n$/,
    );
    r = await ship([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: Cannot ship tuning: no cache file given/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
