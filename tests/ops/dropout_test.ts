import { ok } from "node:assert/strict";
import { dropoutBackward, dropoutForward } from "../../src/ops/dropout.ts";
import * as ref from "../../src/reference/dropout.ts";
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

Deno.test("reference dropout backward matches finite differences (N=11, p=0.3)", () => {
  const N = 11, p = 0.3, seed = 1234, salt = 5;
  const inp = randn(N, 1), g = randn(N, 2);
  const loss = () => ref.dropoutForward(inp, seed, salt, p).reduce((s, v, i) => s + v * g[i], 0);
  const want = ref.dropoutBackward(g, seed, salt, p);
  assertClose("fd dinp", Array.from(inp, (_, i) => finiteDiff(loss, inp, i)), want, {
    atol: 1e-7,
    rtol: 1e-6,
  });
});

Deno.test("reference dropout keeps about 1-p of the elements, and the salt changes the mask", () => {
  const N = 100000, p = 0.1;
  let kept = 0, same = 0;
  for (let i = 0; i < N; i++) {
    const k = ref.dropoutKeep(42, 7, i, p);
    if (k) kept++;
    if (k === ref.dropoutKeep(42, 8, i, p)) same++;
  }
  ok(Math.abs(kept / N - (1 - p)) < 0.005, `kept ${kept / N}`);
  ok(same / N < 0.85, `salts 7 and 8 agree on ${same / N}`);
  for (let i = 0; i < 1000; i++) ok(ref.dropoutKeep(9, 1, i, 0), "p=0 keeps everything");
});

Deno.test("dropoutForward and dropoutBackward reproduce the exact reference mask", async () => {
  const gpu = await testGpu();
  for (
    const [N, p, seed, salt] of [[1, 0.5, 3, 0], [100003, 0.1, 0xdeadbeef, 12], [
      4097,
      0.9,
      0xffffffff,
      0xffffffff,
    ], [1000, 0, 77, 1]]
  ) {
    using pool = testPool(gpu);
    const inp = randn(N, 3), dout = randn(N, 4);
    const seedBuf = pool.upload("seed", Uint32Array.of(seed));
    const out = pool.create("out", N * 4), dinp = pool.create("dinp", N * 4);
    await runPlan(gpu, (plan) => {
      dropoutForward(plan, { out, inp: f32(pool, "inp", inp), seed: seedBuf }, { N, p, salt });
      dropoutBackward(plan, { dinp, dout: f32(pool, "dout", dout), seed: seedBuf }, {
        N,
        p,
        salt,
      });
    });
    const tag = `N=${N} p=${p} seed=${seed} salt=${salt}`;
    const tol = { atol: 0, rtol: 1e-6 };
    assertClose(
      `forward ${tag}`,
      await read(gpu, out, N),
      ref.dropoutForward(inp, seed, salt, p),
      tol,
    );
    assertClose(
      `backward ${tag}`,
      await read(gpu, dinp, N),
      ref.dropoutBackward(dout, seed, salt, p),
      tol,
    );
  }
});
