import { residualForward } from "../../src/ops/residual.ts";
import * as ref from "../../src/reference/residual.ts";
import { assertClose, f32, randn, read, runPlan, testGpu, testPool } from "../helpers/gpu.ts";

Deno.test("residualForward matches reference for N=1 and N=100003", async () => {
  const gpu = await testGpu();
  for (const N of [1, 100003]) {
    using pool = testPool(gpu);
    const a = randn(N, 1), b = randn(N, 2);
    const out = pool.create("out", N * 4);
    await runPlan(
      gpu,
      (plan) =>
        residualForward(plan, { out, inp1: f32(pool, "a", a), inp2: f32(pool, "b", b) }, { N }),
    );
    assertClose(`residual N=${N}`, await read(gpu, out, N), ref.residualForward(a, b), {
      atol: 1e-7,
      rtol: 1e-7,
    });
  }
});
