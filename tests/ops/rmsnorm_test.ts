import { rmsnormBackward, rmsnormForward } from "../../src/ops/rmsnorm.ts";
import * as ref from "../../src/reference/rmsnorm.ts";
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

const EPS = 1e-5;

Deno.test("reference rmsnorm backward matches finite differences (N=3, C=7)", () => {
  const N = 3, C = 7;
  const inp = randn(N * C, 1), weight = randn(C, 2), g = randn(N * C, 3);
  const loss = () =>
    ref.rmsnormForward(inp, weight, N, C, EPS).out.reduce((s, v, i) => s + v * g[i], 0);
  const { rstd } = ref.rmsnormForward(inp, weight, N, C, EPS);
  const { dinp, dweight } = ref.rmsnormBackward(g, inp, weight, rstd, N, C);
  const tol = { atol: 1e-7, rtol: 1e-6 };
  assertClose("fd dinp", Array.from(inp, (_, i) => finiteDiff(loss, inp, i)), dinp, tol);
  assertClose(
    "fd dweight",
    Array.from(weight, (_, i) => finiteDiff(loss, weight, i)),
    dweight,
    tol,
  );
});

const SHAPES: [number, number][] = [[1, 1], [5, 7], [1, 288], [37, 288], [13, 771]];

Deno.test("rmsnormForward matches reference (out and rstd; N=1, odd C, C=288)", async () => {
  const gpu = await testGpu();
  for (const [N, C] of SHAPES) {
    using pool = testPool(gpu);
    const inp = randn(N * C, 4, 2), weight = randn(C, 5);
    const want = ref.rmsnormForward(inp, weight, N, C, EPS);
    const out = pool.create("out", N * C * 4), rstd = pool.create("rstd", N * 4);
    await runPlan(gpu, (plan) =>
      rmsnormForward(plan, {
        out,
        rstd,
        inp: f32(pool, "inp", inp),
        weight: f32(pool, "w", weight),
      }, { N, C, eps: EPS }));
    assertClose(`forward out N=${N} C=${C}`, await read(gpu, out, N * C), want.out);
    assertClose(`forward rstd N=${N} C=${C}`, await read(gpu, rstd, N), want.rstd);
  }
});

Deno.test("rmsnormBackward adds the reference gradients into dinp and dweight", async () => {
  const gpu = await testGpu();
  for (const [N, C] of SHAPES) {
    using pool = testPool(gpu);
    const inp = randn(N * C, 6, 2), weight = randn(C, 7), dout = randn(N * C, 8);
    const prevDinp = randn(N * C, 9), prevDw = randn(C, 10);
    const { rstd } = ref.rmsnormForward(inp, weight, N, C, EPS);
    const want = ref.rmsnormBackward(dout, inp, weight, rstd, N, C);
    const dinp = f32(pool, "dinp", prevDinp), dweight = f32(pool, "dweight", prevDw);
    await runPlan(gpu, (plan) =>
      rmsnormBackward(plan, {
        dinp,
        dweight,
        dout: f32(pool, "dout", dout),
        inp: f32(pool, "inp", inp),
        weight: f32(pool, "w", weight),
        rstd: f32(pool, "rstd", rstd),
      }, { N, C }));
    assertClose(
      `backward dinp N=${N} C=${C}`,
      await read(gpu, dinp, N * C),
      want.dinp.map((v, i) => v + prevDinp[i]),
    );
    assertClose(
      `backward dweight N=${N} C=${C}`,
      await read(gpu, dweight, C),
      want.dweight.map((v, i) => v + prevDw[i]),
      { atol: 1e-5 * Math.sqrt(N), rtol: 1e-4 },
    );
  }
});
