import * as assert from "node:assert/strict";
import { join } from "node:path";
import type { Gpu } from "../../src/gpu/device.ts";
import { Plan } from "../../src/gpu/plan.ts";
import {
  adapterKey,
  defaultTuneCachePath,
  formatTuneTable,
  readTuneCache,
  tuneCacheInfo,
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

Deno.test("the tuning cache path: BABYLLAMA_TUNE_CACHE, else XDG_CACHE_HOME, else HOME/.cache", () => {
  const saved = ["BABYLLAMA_TUNE_CACHE", "XDG_CACHE_HOME", "HOME"].map((k) => [k, Deno.env.get(k)]);
  try {
    Deno.env.set("HOME", "/home/u");
    Deno.env.delete("BABYLLAMA_TUNE_CACHE");
    Deno.env.delete("XDG_CACHE_HOME");
    assert.equal(defaultTuneCachePath(), "/home/u/.cache/babyllama/tune.json");
    Deno.env.set("XDG_CACHE_HOME", "/c");
    assert.equal(defaultTuneCachePath(), "/c/babyllama/tune.json");
    Deno.env.set("XDG_CACHE_HOME", "relative"); // not absolute: ignored, as the XDG spec says
    assert.equal(defaultTuneCachePath(), "/home/u/.cache/babyllama/tune.json");
    Deno.env.set("BABYLLAMA_TUNE_CACHE", "/x/t.json");
    assert.equal(defaultTuneCachePath(), "/x/t.json");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k!) : Deno.env.set(k!, v);
  }
});
