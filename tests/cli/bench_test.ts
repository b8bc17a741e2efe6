/** `bench --tune`: tuning through the CLI, the table on stderr, the cache reused. */
import * as assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../helpers/cli.ts";

const TINY = [
  "bench",
  "--dim",
  "16",
  "--n-layers",
  "1",
  "--n-heads",
  "2",
  "--n-kv-heads",
  "2",
  "--vocab-size",
  "64",
  "--batch-size",
  "1",
  "--seq-len",
  "8",
  "--iters",
  "1",
  "--no-verbose",
];

Deno.test("bench --tune full tunes and prints the table; --tune cached reuses the cache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babyllama-bench-" });
  const cache = join(dir, "tune.json");
  try {
    const full = await runMain([...TINY, "--tune", "full", "--tune-cache", cache]);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stderr, /^tuning matmul_forward 8x16x16: 1\/\d+ \S+ [\d.]+ ms ok$/m);
    assert.match(full.stderr, /^kernel +shape +timer +variant +ms +GFLOP\/s +status$/m);
    const a = JSON.parse(full.stdout.trim().split("\n").at(-1)!);
    assert.equal(a.tune, "full");
    assert.ok(a.kernels["matmul_forward 8x16x64"], JSON.stringify(a.kernels));
    const cached = await runMain([...TINY, "--tune", "cached", "--tune-cache", cache]);
    assert.equal(cached.code, 0, cached.stderr);
    assert.doesNotMatch(cached.stderr, /^tuning /m);
    const b = JSON.parse(cached.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(b.kernels, a.kernels);
    // off: the adapter class's fixed default everywhere, whatever the cache holds.
    const off = await runMain([...TINY, "--tune", "off", "--tune-cache", cache]);
    const c = JSON.parse(off.stdout.trim().split("\n").at(-1)!);
    const fwd = Object.entries(c.kernels).filter(([k]) => k.startsWith("matmul_forward "));
    assert.equal(new Set(fwd.map(([, v]) => v)).size, 1, JSON.stringify(c.kernels));
    assert.ok(["reg_wg8_16x12", "tile_16x16_4x4"].includes(fwd[0][1] as string));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench rejects a bad --tune and a bad BABYLLAMA_TUNE with exit 2", async () => {
  const bad = await runMain([...TINY, "--tune", "sometimes"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  // The variable goes to the subprocess only (test files share this process's environment).
  const env = await runMain(TINY, undefined, { BABYLLAMA_TUNE: "sometimes" });
  assert.equal(env.code, 2);
  assert.match(env.stderr.trim(), /^[^\n]*BABYLLAMA_TUNE must be one of full\|cached\|off[^\n]*$/);
});
