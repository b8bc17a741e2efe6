import assert from "node:assert/strict";
import {
  swigluBackward,
  swigluForward,
  swigluPackedBackward,
  swigluPackedForward,
} from "../../src/ops/swiglu.ts";
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

Deno.test("reference swigluPackedBackward matches finite differences (N=3, H=5)", () => {
  const N = 3, H = 5;
  const h13 = randn(2 * N * H, 7, 4), g = randn(N * H, 8);
  const loss = () => ref.swigluPackedForward(h13, N, H).reduce((s, v, i) => s + v * g[i], 0);
  const fd = Array.from(h13, (_, i) => finiteDiff(loss, h13, i));
  assertClose("fd dh13", fd, ref.swigluPackedBackward(g, h13, N, H), { atol: 1e-7, rtol: 1e-6 });
});

for (const [N, H] of [[1, 1], [7, 13], [37, 96]]) {
  Deno.test(`swigluPackedForward and swigluPackedBackward match reference and swiglu's bits (N=${N}, H=${H})`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const h13 = randn(2 * N * H, 9, 100), dout = randn(N * H, 10);
    const h1 = Float32Array.from(
      { length: N * H },
      (_, i) => h13[2 * H * Math.floor(i / H) + (i % H)],
    );
    const h3 = Float32Array.from(
      { length: N * H },
      (_, i) => h13[2 * H * Math.floor(i / H) + H + (i % H)],
    );
    const out = pool.create("out", N * H * 4), dh13 = pool.create("dh13", 2 * N * H * 4);
    const out1 = pool.create("out1", N * H * 4), dh1 = pool.create("dh1", N * H * 4);
    const dh3 = pool.create("dh3", N * H * 4);
    const bh13 = f32(pool, "h13", h13), bdout = f32(pool, "dout", dout);
    const bh1 = f32(pool, "h1", h1), bh3 = f32(pool, "h3", h3);
    await runPlan(gpu, (plan) => {
      swigluPackedForward(plan, { out, h13: bh13 }, { N, H });
      swigluPackedBackward(plan, { dh13, dout: bdout, h13: bh13 }, { N, H });
      swigluForward(plan, { out: out1, h1: bh1, h3: bh3 }, { N: N * H });
      swigluBackward(plan, { dh1, dh3, dout: bdout, h1: bh1, h3: bh3 }, { N: N * H });
    });
    const tol = { atol: 1e-6, rtol: 1e-5 };
    const got = await read(gpu, out, N * H), gotD = await read(gpu, dh13, 2 * N * H);
    assertClose(`packed forward N=${N} H=${H}`, got, ref.swigluPackedForward(h13, N, H), tol);
    assertClose(
      `packed backward N=${N} H=${H}`,
      gotD,
      ref.swigluPackedBackward(dout, h13, N, H),
      tol,
    );
    assert.deepEqual(got, await read(gpu, out1, N * H), "out: the bits of swigluForward");
    const d1 = await read(gpu, dh1, N * H), d3 = await read(gpu, dh3, N * H);
    const packed = new Float32Array(2 * N * H);
    for (let n = 0; n < N; n++) {
      packed.set(d1.subarray(n * H, (n + 1) * H), 2 * n * H);
      packed.set(d3.subarray(n * H, (n + 1) * H), (2 * n + 1) * H);
    }
    assert.deepEqual(gotD, packed, "dh13: the bits of swigluBackward");
  });
}
