import { swigluBackward, swigluForward } from "../../src/ops/swiglu.ts";
import * as ref from "../../src/reference/swiglu.ts";
import {
  assertClose,
  f32,
  finiteDiff,
  randn,
  read,
  runPlan,
  testGpu,
  testPool,
} from "../helpers/gpu.ts";

Deno.test("reference swiglu backward matches finite differences (N=9)", () => {
  const N = 9;
  const h1 = randn(N, 1, 4), h3 = randn(N, 2), g = randn(N, 3);
  const loss = () => ref.swigluForward(h1, h3).reduce((s, v, i) => s + v * g[i], 0);
  const { dh1, dh3 } = ref.swigluBackward(g, h1, h3);
  const tol = { atol: 1e-7, rtol: 1e-6 };
  assertClose("fd dh1", Array.from(h1, (_, i) => finiteDiff(loss, h1, i)), dh1, tol);
  assertClose("fd dh3", Array.from(h3, (_, i) => finiteDiff(loss, h3, i)), dh3, tol);
});

// Large |h1| too (scale 100): exp(-h1) overflows to inf for h1 < -88 in f32.
for (const scale of [4, 100]) {
  Deno.test(`swigluForward and swigluBackward match reference (N=1, N=100003, |h1|<${scale})`, async () => {
    const gpu = await testGpu();
    for (const N of [1, 100003]) {
      using pool = testPool(gpu);
      const h1 = randn(N, 4, scale), h3 = randn(N, 5), dout = randn(N, 6);
      const bh1 = f32(pool, "h1", h1), bh3 = f32(pool, "h3", h3);
      const out = pool.create("out", N * 4), dh1 = pool.create("dh1", N * 4);
      const dh3 = pool.create("dh3", N * 4);
      await runPlan(gpu, (plan) => {
        swigluForward(plan, { out, h1: bh1, h3: bh3 }, { N });
        swigluBackward(plan, { dh1, dh3, dout: f32(pool, "dout", dout), h1: bh1, h3: bh3 }, { N });
      });
      const want = ref.swigluBackward(dout, h1, h3);
      const tol = { atol: 1e-6, rtol: 1e-5 };
      assertClose(`forward N=${N}`, await read(gpu, out, N), ref.swigluForward(h1, h3), tol);
      assertClose(`backward dh1 N=${N}`, await read(gpu, dh1, N), want.dh1, tol);
      assertClose(`backward dh3 N=${N}`, await read(gpu, dh3, N), want.dh3, tol);
    }
  });
}
