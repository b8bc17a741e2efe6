import assert from "node:assert/strict";
import { residualRmsnormForward } from "../../src/ops/residual_rmsnorm.ts";
import { residualForward } from "../../src/ops/residual.ts";
import { rmsnormForward } from "../../src/ops/rmsnorm.ts";
import * as ref from "../../src/reference/residual_rmsnorm.ts";
import { assertClose, f32, randn, read, runPlan, testGpu, testPool } from "../helpers/gpu.ts";

const EPS = 1e-5;

for (const [N, C] of [[1, 1], [5, 7], [37, 288], [13, 771]]) {
  Deno.test(`residualRmsnormForward matches reference and the bits of residual + rmsnorm (N=${N}, C=${C})`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const a = randn(N * C, 1, 2), b = randn(N * C, 2), w = randn(C, 3);
    const ba = f32(pool, "a", a), bb = f32(pool, "b", b), bw = f32(pool, "w", w);
    const res = pool.create("res", N * C * 4), out = pool.create("out", N * C * 4);
    const rstd = pool.create("rstd", N * 4);
    const res1 = pool.create("res1", N * C * 4), out1 = pool.create("out1", N * C * 4);
    const rstd1 = pool.create("rstd1", N * 4);
    await runPlan(gpu, (plan) => {
      residualRmsnormForward(plan, { res, out, rstd, inp1: ba, inp2: bb, weight: bw }, {
        N,
        C,
        eps: EPS,
      });
      residualForward(plan, { out: res1, inp1: ba, inp2: bb }, { N: N * C });
      rmsnormForward(plan, { out: out1, rstd: rstd1, inp: res1, weight: bw }, { N, C, eps: EPS });
    });
    const want = ref.residualRmsnormForward(a, b, w, N, C, EPS);
    const got = {
      res: await read(gpu, res, N * C),
      out: await read(gpu, out, N * C),
      rstd: await read(gpu, rstd, N),
    };
    assertClose(`res N=${N} C=${C}`, got.res, want.res, { atol: 1e-7, rtol: 1e-7 });
    assertClose(`out N=${N} C=${C}`, got.out, want.out);
    assertClose(`rstd N=${N} C=${C}`, got.rstd, want.rstd);
    assert.deepEqual(got.res, await read(gpu, res1, N * C), "res: the bits of residualForward");
    assert.deepEqual(got.out, await read(gpu, out1, N * C), "out: the bits of rmsnormForward");
    assert.deepEqual(got.rstd, await read(gpu, rstd1, N), "rstd: the bits of rmsnormForward");
  });
}
