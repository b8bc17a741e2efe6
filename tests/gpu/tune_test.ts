import * as assert from "node:assert/strict";
import { join } from "node:path";
import type { Gpu } from "../../src/gpu/device.ts";
import { Plan } from "../../src/gpu/plan.ts";
import {
  adapterKey,
  defaultTuneCachePath,
  formatTuneTable,
  readTuneCache,
  SHIPPED_TUNING,
  shippedAdapterKey,
  tuneAdapterInfo,
  type TuneCacheFile,
  tuneCacheInfo,
  tuneCachePath,
  type TuneEntry,
  type TuneFamily,
  tuneInput,
  tunerFor,
} from "../../src/gpu/tune.ts";
import {
  MATMUL_BACKWARD_DINP,
  MATMUL_BACKWARD_DWEIGHT,
  MATMUL_FORWARD,
  matmulForward,
  type MatmulSizes,
  matmulVariants,
} from "../../src/ops/matmul.ts";
import { CROSSENTROPY_BACKWARD, CROSSENTROPY_FORWARD } from "../../src/ops/crossentropy.ts";
import { testGpu } from "../helpers/gpu.ts";

/**
 * A family around matmul_forward with a candidate that computes something else (`wrong`: the
 * weight of another seed) and one that cannot be recorded (`broken`): the tuner must time
 * neither as a winner.
 */
function _testFamily(hash = "test-hash-1"): TuneFamily<MatmulSizes> {
  return {
    name: "test_matmul",
    sourceHash: hash,
    shapeKey: (p) => `${p.N}x${p.C}x${p.OC}`,
    candidates: () => ["reg_wg8_16x12", "wrong", "reg_wg8_8x8", "broken"],
    fallback: () => "reg_wg8_16x12",
    setup: (_gpu, p, pool) => {
      const inp = tuneInput(pool, "inp", p.N * p.C, 1);
      const weight = tuneInput(pool, "weight", p.OC * p.C, 2);
      const other = tuneInput(pool, "other", p.OC * p.C, 3);
      const out = pool.create("out", p.N * p.OC * 4);
      return {
        flop: 2 * p.N * p.C * p.OC,
        outputs: [{ buffer: out, length: p.N * p.OC }],
        record: (plan, v) => {
          if (v === "broken") throw new RangeError("no such kernel");
          const w = v === "wrong" ? other : weight;
          matmulForward(plan, { out, inp, weight: w }, p, v === "wrong" ? "reg_wg8_16x12" : v);
        },
      };
    },
  };
}

async function _tempCache(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama-tune-" });
  return { dir, path: join(dir, "sub", "tune.json") };
}

async function _withOff(gpu: Gpu, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } finally {
    await tunerFor(gpu).configure({ mode: "off" });
  }
}

Deno.test("tuner mode off picks the adapter class's default and queues nothing", async () => {
  const gpu = await testGpu();
  await tunerFor(gpu).configure({ mode: "off" });
  const shape = { N: 64, C: 32, OC: 48 };
  assert.equal(tunerFor(gpu).pick(MATMUL_FORWARD, shape), matmulVariants(gpu, "forward", shape)[0]);
  assert.equal(tunerFor(gpu).pending, 0);
  if (gpu.isCpu) assert.equal(tunerFor(gpu).pick(MATMUL_FORWARD, shape), "reg_wg8_16x12");
  else assert.equal(tunerFor(gpu).pick(MATMUL_FORWARD, shape), "tile_16x16_4x4");
});

Deno.test("tuner full: build() tunes what a recording asks for, rejects a wrong candidate, caches atomically; cached reuses it", async () => {
  const gpu = await testGpu();
  const { dir, path } = await _tempCache();
  await _withOff(gpu, async () => {
    const lines: string[] = [];
    await tunerFor(gpu).configure({ mode: "full", cachePath: path, log: (l) => lines.push(l) });
    const fam = _testFamily();
    const shape = { N: 40, C: 32, OC: 48 };
    const picked: string[] = [];
    const make = () => {
      const plan = new Plan(gpu, "test");
      picked.push(tunerFor(gpu).pick(fam, shape));
      return plan;
    };
    using _plan = await tunerFor(gpu).build(make);
    // Built twice: first with the default (queued), then with the winner.
    assert.equal(picked.length, 2);
    assert.equal(picked[0], "reg_wg8_16x12");
    assert.equal(tunerFor(gpu).pending, 0);
    const entry = tunerFor(gpu).entries().find((e) => e.family === "test_matmul")!;
    assert.ok(entry, "no entry");
    assert.equal(picked[1], entry.variant);
    const status = Object.fromEntries(entry.results.map((r) => [r.variant, r.status]));
    // (`slow` only if a warm-up, lazy compile included, took over a second: a loaded machine)
    if (status.reg_wg8_8x8 === "slow") status.reg_wg8_8x8 = "ok";
    assert.deepEqual(status, {
      reg_wg8_16x12: "ok",
      wrong: "mismatch",
      reg_wg8_8x8: "ok",
      broken: "error",
    });
    assert.ok(["reg_wg8_16x12", "reg_wg8_8x8"].includes(entry.variant));
    const fastest = entry.results.filter((r) => r.status === "ok")
      .reduce((a, b) => (b.ms! < a.ms! ? b : a));
    assert.equal(entry.variant, fastest.variant);
    // CPU adapters time by the process's CPU time; GPUs by timestamps where granted.
    assert.equal(entry.timer, gpu.isCpu ? "cpu" : gpu.timestamps ? "timestamp" : "wall");
    assert.match(lines[0], /^tuning test_matmul 40x32x48: 1\/4 reg_wg8_16x12 [\d.]+ ms ok$/);
    assert.ok(lines.some((l) => l.startsWith("tuned test_matmul 40x32x48: ")), lines.join("\n"));
    // The cache file: written through a temp file in its (created) directory, none left over.
    const file = await readTuneCache(path);
    const mine = file.adapters[adapterKey(gpu)];
    assert.equal(mine.entries["test_matmul 40x32x48"].variant, entry.variant);
    assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["tune.json"]);
    assert.match(formatTuneTable([entry]), new RegExp(`\\* ${entry.variant}`));

    // cached: the choice comes from the file, nothing is queued; a new source hash is a miss.
    await tunerFor(gpu).configure({ mode: "cached", cachePath: path });
    assert.equal(tunerFor(gpu).pick(fam, shape), entry.variant);
    assert.deepEqual(tunerFor(gpu).picks().map((p) => p.source), ["cache"]);
    assert.equal(tunerFor(gpu).pick(_testFamily("test-hash-2"), shape), "reg_wg8_16x12");
    assert.equal(tunerFor(gpu).pending, 0);
    // full with a changed hash queues the key again; off ignores the cache.
    await tunerFor(gpu).configure({ mode: "full", cachePath: path, log: () => {} });
    tunerFor(gpu).pick(_testFamily("test-hash-2"), shape);
    assert.equal(tunerFor(gpu).pending, 1);
    await tunerFor(gpu).configure({ mode: "off" });
    assert.equal(tunerFor(gpu).pick(fam, shape), "reg_wg8_16x12");

    const info = await tuneCacheInfo(gpu, path);
    assert.equal(info.exists, true);
    assert.equal(info.adapter, adapterKey(gpu));
    assert.deepEqual(info.entries.map((e) => `${e.family} ${e.shape}`), [
      "test_matmul 40x32x48",
    ]);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("every candidate of the matmul and cross-entropy families passes the tuner's check", async () => {
  const gpu = await testGpu();
  const { dir, path } = await _tempCache();
  await _withOff(gpu, async () => {
    await tunerFor(gpu).configure({ mode: "full", cachePath: path, log: () => {} });
    const entries = [
      await tunerFor(gpu).tune(MATMUL_FORWARD, { N: 70, C: 36, OC: 52 }),
      await tunerFor(gpu).tune(MATMUL_BACKWARD_DINP, { N: 70, C: 36, OC: 52 }),
      await tunerFor(gpu).tune(MATMUL_BACKWARD_DWEIGHT, { N: 70, C: 36, OC: 52 }),
      await tunerFor(gpu).tune(CROSSENTROPY_FORWARD, { R: 5, V: 1000 }),
      await tunerFor(gpu).tune(CROSSENTROPY_BACKWARD, { R: 5, V: 1000 }),
    ];
    for (const e of entries) {
      assert.ok(e, "a family with several candidates was not tuned");
      for (const r of e.results) {
        assert.ok(
          r.status === "ok" || r.status === "slow",
          `${e.family} ${r.variant}: ${r.status} ${r.note ?? ""}`,
        );
      }
    }
    // A shape with one kernel (V not a multiple of 4) has nothing to tune.
    assert.equal(await tunerFor(gpu).tune(CROSSENTROPY_FORWARD, { R: 2, V: 67 }), null);
    const info = await tuneCacheInfo(gpu, path);
    assert.equal(info.entries.length, 5);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unreadable tuning cache is reported, ignored, and replaced when saving", async () => {
  const gpu = await testGpu();
  const { dir, path } = await _tempCache();
  await Deno.mkdir(join(dir, "sub"));
  await Deno.writeTextFile(path, "{not json");
  await _withOff(gpu, async () => {
    const lines: string[] = [];
    await tunerFor(gpu).configure({ mode: "full", cachePath: path, log: (l) => lines.push(l) });
    assert.match(lines[0], /^warning: ignoring the tuning cache: Cannot read tuning cache/);
    assert.match((await tuneCacheInfo(gpu, path)).error ?? "", /Cannot read tuning cache/);
    await tunerFor(gpu).tune(_testFamily(), { N: 8, C: 8, OC: 8 });
    assert.equal((await tuneCacheInfo(gpu, path)).entries.length, 1);
  });
  await Deno.remove(dir, { recursive: true });
});

/** A family that is never run: pick() needs only its names, candidates and default. */
function _pickFamily(hash = "pick-hash-1"): TuneFamily<{ n: number }> {
  return {
    name: "pick_test",
    sourceHash: hash,
    shapeKey: (p) => `n${p.n}`,
    candidates: () => ["a", "b", "c"],
    fallback: () => "a",
    setup: () => {
      throw new Error("pick_test is not tuned in this test");
    },
  };
}

function _entry(shape: string, variant: string, hash = "pick-hash-1"): TuneEntry {
  return {
    family: "pick_test",
    shape,
    hash,
    variant,
    fallback: "a",
    timer: "timestamp",
    gflop: 0,
    results: [],
    tunedAt: "2026-01-01T00:00:00.000Z",
  };
}

Deno.test("tuner lookup: the cache beats the shipped table beats the default; off ignores both; stale or unrunnable shipped entries are ignored", async () => {
  const gpu = await testGpu();
  const { dir, path } = await _tempCache();
  await Deno.mkdir(join(dir, "sub"));
  const info = tuneAdapterInfo(gpu);
  // The cache (exact adapter key) answers n1; the shipped table (loose key) answers n1 (loses
  // to the cache), n2, and n3/n4 with a stale hash / a variant this family does not have.
  const cache: TuneCacheFile = {
    version: 1,
    adapters: { [adapterKey(gpu)]: { info, entries: { "pick_test n1": _entry("n1", "b") } } },
  };
  await Deno.writeTextFile(path, JSON.stringify(cache));
  const shippedFor = (adapterInfo: Record<string, unknown>): TuneCacheFile => ({
    version: 1,
    adapters: {
      [shippedAdapterKey(adapterInfo)]: {
        info: adapterInfo,
        entries: {
          "pick_test n1": _entry("n1", "c"),
          "pick_test n2": _entry("n2", "c"),
          "pick_test n3": _entry("n3", "c", "an-older-kernel"),
          "pick_test n4": _entry("n4", "zz"),
        },
      },
    },
  });
  // Shipped entries match without the Deno version and feature hash (another Deno tuned them).
  const shipped = shippedFor({ ...info, deno: "0.1.0", features: "another-feature-list" });
  const fam = _pickFamily();
  const pickAll = () => [1, 2, 3, 4, 5].map((n) => tunerFor(gpu).pick(fam, { n }));
  const sources = () => tunerFor(gpu).picks().map((p) => p.source);
  await _withOff(gpu, async () => {
    await tunerFor(gpu).configure({ mode: "cached", cachePath: path, shipped });
    assert.deepEqual(pickAll(), ["b", "c", "a", "a", "a"]);
    assert.deepEqual(sources(), ["cache", "shipped", "default", "default", "default"]);
    assert.equal(tunerFor(gpu).pending, 0);
    assert.equal(tunerFor(gpu).shippedEntries().length, 4);

    // full: tunes what the cache lacks (a shipped entry does not stop it) and meanwhile picks
    // the shipped entry, else the default.
    await tunerFor(gpu).configure({ mode: "full", cachePath: path, shipped, log: () => {} });
    assert.deepEqual(pickAll(), ["b", "c", "a", "a", "a"]);
    assert.equal(tunerFor(gpu).pending, 4);

    // off: the default whatever the cache and the table say.
    await tunerFor(gpu).configure({ mode: "off", cachePath: path, shipped });
    assert.deepEqual(pickAll(), ["a", "a", "a", "a", "a"]);
    assert.deepEqual(sources(), ["default", "default", "default", "default", "default"]);

    // Without the cache file, the shipped table answers n1 too; without a table, nothing does.
    await tunerFor(gpu).configure({ mode: "cached", cachePath: join(dir, "none.json"), shipped });
    assert.deepEqual(pickAll(), ["c", "c", "a", "a", "a"]);
    await tunerFor(gpu).configure({
      mode: "cached",
      cachePath: join(dir, "none.json"),
      shipped: null,
    });
    assert.deepEqual(pickAll(), ["a", "a", "a", "a", "a"]);

    // A changed family (new source hash) ignores both the cache and the table.
    await tunerFor(gpu).configure({ mode: "cached", cachePath: path, shipped });
    assert.equal(tunerFor(gpu).pick(_pickFamily("pick-hash-2"), { n: 1 }), "a");
    assert.equal(tunerFor(gpu).pick(_pickFamily("pick-hash-2"), { n: 2 }), "a");

    // Another GPU model's entries do not apply.
    const other = shippedFor({ ...info, description: "Some Other GPU" });
    await tunerFor(gpu).configure({
      mode: "cached",
      cachePath: join(dir, "none.json"),
      shipped: other,
    });
    assert.deepEqual(pickAll(), ["a", "a", "a", "a", "a"]);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the shipped table: a version 1 table, GPU adapters only, keyed by shippedAdapterKey, every entry under its family and shape", () => {
  assert.equal(SHIPPED_TUNING.version, 1);
  for (const [key, a] of Object.entries(SHIPPED_TUNING.adapters)) {
    assert.equal(key, shippedAdapterKey(a.info), key);
    assert.notEqual(a.info.isFallbackAdapter, true, key);
    assert.doesNotMatch(String(a.info.description), /llvmpipe|lavapipe|swiftshader/i, key);
    assert.ok(Object.keys(a.entries).length > 0, `${key}: no entries`);
    for (const [k, e] of Object.entries(a.entries)) {
      assert.equal(k, `${e.family} ${e.shape}`);
      assert.match(e.hash, /^[0-9a-f]{14}$/);
      assert.ok(e.variant.length > 0);
    }
  }
});

Deno.test("the tuning cache path: BABYLLAMA_TUNE_CACHE, else XDG_CACHE_HOME, else HOME/.cache", () => {
  // A private environment: test files run in parallel in one process, so changing the process
  // environment here would leak into their subprocesses.
  const vars = new Map<string, string>([["HOME", "/home/u"]]);
  const env = (k: string) => vars.get(k);
  assert.equal(tuneCachePath(undefined, env).path, "/home/u/.cache/babyllama/tune.json");
  vars.set("XDG_CACHE_HOME", "/c");
  assert.equal(tuneCachePath(undefined, env).path, "/c/babyllama/tune.json");
  vars.set("XDG_CACHE_HOME", "relative"); // not absolute: ignored, as the XDG spec says
  assert.deepEqual(tuneCachePath(undefined, env), {
    path: "/home/u/.cache/babyllama/tune.json",
    rule: "HOME",
    ignored: "XDG_CACHE_HOME=relative (not absolute)",
  });
  vars.set("BABYLLAMA_TUNE_CACHE", "/x/t.json");
  assert.equal(tuneCachePath(undefined, env).path, "/x/t.json");
  assert.equal(tuneCachePath(undefined, env).rule, "BABYLLAMA_TUNE_CACHE");
  assert.deepEqual(tuneCachePath("/f.json", env), {
    path: "/f.json",
    rule: "--tune-cache",
    ignored: null,
  });
  vars.delete("BABYLLAMA_TUNE_CACHE");
  vars.set("XDG_CACHE_HOME", "/c");
  assert.deepEqual(tuneCachePath(undefined, env), {
    path: "/c/babyllama/tune.json",
    rule: "XDG_CACHE_HOME",
    ignored: null,
  });
  // defaultTuneCachePath is tuneCachePath's path for the process environment.
  assert.equal(defaultTuneCachePath(), tuneCachePath().path);
});
