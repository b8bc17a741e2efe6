/**
 * The tuner's CLI helpers: TUNE_FAMILY_HASHES names every tunable kernel family that src/ops
 * exports, with its current source hash (doctor and tools/ship_tuning.ts mark entries stale by
 * it), so a family added to a new or existing ops module cannot be missed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { TUNE_FAMILY_HASHES } from "../../src/cli/tune.ts";
import { REPO_ROOT } from "../helpers/data.ts";

Deno.test("TUNE_FAMILY_HASHES has every exported tune family of src/ops, with its source hash", async () => {
  const found: Record<string, string> = {};
  const dir = join(REPO_ROOT, "src", "ops");
  for (const f of [...Deno.readDirSync(dir)].map((e) => e.name).sort()) {
    if (!f.endsWith(".ts")) continue;
    const mod = await import(pathToFileURL(join(dir, f)).href);
    for (const v of Object.values(mod)) {
      const x = v as { name?: unknown; sourceHash?: unknown; candidates?: unknown };
      if (
        typeof x === "object" && x !== null && typeof x.sourceHash === "string" &&
        typeof x.name === "string" && typeof x.candidates === "function"
      ) found[x.name] = x.sourceHash;
    }
  }
  assert.ok(Object.keys(found).includes("matmul_forward"), "the scan found no families");
  assert.deepEqual({ ...TUNE_FAMILY_HASHES }, found);
});
