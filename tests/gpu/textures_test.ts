import * as assert from "node:assert/strict";
import { Plan } from "../../src/gpu/plan.ts";
import {
  SCRATCH_TEXTURE_WIDTH,
  scratchTexture,
  scratchTextureCapacity,
} from "../../src/gpu/textures.ts";
import { testGpu, testPool } from "../helpers/gpu.ts";

// What the copied texels hold is checked through the kernels that read them
// (tests/ops/attention_test.ts, tests/ops/matmul_test.ts); here: how many copies, and refusals.
Deno.test("scratchTexture records one copy per full block of rows and one for a partial row", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const W = SCRATCH_TEXTURE_WIDTH;
  const buf = pool.create("b", (2 * W + 3) * 16);
  using plan = new Plan(gpu, "test");
  scratchTexture(plan, "test", 0, buf, 4 * 3); // 3 texels: one partial row
  assert.equal(plan.length, 1);
  scratchTexture(plan, "test", 0, buf, 4 * 2 * W); // two full rows: one copy
  assert.equal(plan.length, 2);
  scratchTexture(plan, "test", 1, buf, 4 * (2 * W + 3)); // two full rows and a partial one
  assert.equal(plan.length, 4);
  await plan.check();
});

Deno.test("scratchTexture refuses sizes that are not positive multiples of 4 or exceed the texture", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  using plan = new Plan(gpu, "test");
  const buf = pool.create("b", 64);
  for (const n of [0, 6, -4, scratchTextureCapacity(gpu.limits) + 4]) {
    assert.throws(() => scratchTexture(plan, "test", 0, buf, n), RangeError, String(n));
  }
  assert.equal(plan.length, 0);
});
