import {
  allCrossentropyVariants,
  crossentropyBackward,
  crossentropyForward,
  lossMean,
} from "../../src/ops/crossentropy.ts";
import * as ref from "../../src/reference/crossentropy.ts";
import {
  assertClose,
  f32,
  finiteDiff,
  randn,
  read,
  runPlan,
  testGpu,
  testGpuWithSubgroups,
  testPool,
} from "../helpers/gpu.ts";

/** Targets in [0, V) from a seed, with the rows in `ignored` set to -1. */
function _targets(
  R: number,
  V: number,
  seed: number,
  ignored: number[] = [],
): Int32Array<ArrayBuffer> {
  const u = randn(R, seed);
  const t: Int32Array<ArrayBuffer> = Int32Array.from(
    u,
    (x) => Math.min(V - 1, Math.floor((x + 1) / 2 * V)),
  );
  for (const r of ignored) t[r] = -1;
  return t;
}

Deno.test("reference crossentropyBackward matches finite differences", () => {
  const R = 3, V = 7, dloss = 0.37;
  const x = randn(R * V, 1, 3);
  const targets = _targets(R, V, 2, [1]);
  const loss = () => ref.lossMean(ref.crossentropyForward(x, targets, { R, V }).losses, dloss);
  const fd = Float64Array.from(x, (_, i) => finiteDiff(loss, x, i));
  assertClose(
    "dlogits vs finite differences",
    ref.crossentropyBackward(x, targets, dloss, {
      R,
      V,
    }),
    fd,
    { atol: 1e-8, rtol: 1e-6 },
  );
});

for (
  const [R, V, ignored] of [[1, 7, []], [5, 1000, [3]], [3, 32000, [0]], [17, 257, [4, 16]], [
    2,
    4,
    [],
  ], [9, 12, [8]]] as [
    number,
    number,
    number[],
  ][]
) {
  Deno.test(`crossentropy forward, backward and lossMean match reference for R=${R} V=${V}`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const x = randn(R * V, R + V, 8);
    const targets = _targets(R, V, V, ignored);
    const dloss = 1 / (R - ignored.length);
    const logits = f32(pool, "logits", x);
    const bt = pool.upload("targets", targets);
    const losses = pool.create("losses", R * 4), lse = pool.create("lse", R * 4);
    const loss = pool.create("loss", 4);
    await runPlan(gpu, (plan) => {
      crossentropyForward(plan, { losses, lse, logits, targets: bt }, { R, V });
      lossMean(plan, { loss, losses, scale: f32(pool, "scale", [dloss]) }, { N: R });
      crossentropyBackward(plan, {
        logits,
        lse,
        targets: bt,
        dloss: f32(pool, "dloss", [dloss]),
      }, { R, V });
    });
    const want = ref.crossentropyForward(x, targets, { R, V });
    const tol = { atol: 1e-6, rtol: 1e-6 };
    assertClose(`losses R=${R} V=${V}`, await read(gpu, losses, R), want.losses, tol);
    const gotLse = await read(gpu, lse, R);
    assertClose(
      `lse R=${R} V=${V} (non-ignored rows)`,
      gotLse.filter((_, r) => targets[r] >= 0),
      want.lse.filter((_, r) => targets[r] >= 0),
      tol,
    );
    assertClose(`loss R=${R} V=${V}`, await read(gpu, loss, 1), [
      ref.lossMean(want.losses, dloss),
    ], tol);
    assertClose(
      `dlogits R=${R} V=${V}`,
      await read(gpu, logits, R * V),
      ref.crossentropyBackward(x, targets, dloss, { R, V }),
      { atol: 1e-8, rtol: 1e-5 },
    );
  });
}

Deno.test("every cross-entropy variant matches reference (one workgroup per row, subgroups)", async () => {
  const plain = await testGpu();
  const sg = await testGpuWithSubgroups();
  if (!sg) console.log("  the adapter refuses subgroups: sg variants not tested");
  // 32000-wide rows (the Llama 2 vocabulary), rows shorter than a 256-lane workgroup (V/4 = 3),
  // and an ignored row in each.
  const cases: [number, number, number[]][] = [[3, 32000, [1]], [5, 12, [0]], [2, 1004, [1]]];
  for (const [R, V, ignored] of cases) {
    const x = randn(R * V, R + V, 8);
    const targets = _targets(R, V, V + 1, ignored);
    const want = ref.crossentropyForward(x, targets, { R, V });
    const dloss = 1 / (R - ignored.length);
    const wantD = ref.crossentropyBackward(x, targets, dloss, { R, V });
    const live = (_: number, r: number) => targets[r] >= 0;
    for (const backward of [false, true]) {
      for (const variant of allCrossentropyVariants(backward)) {
        const gpu = variant.startsWith("sg") ? sg : plain;
        if (!gpu) continue;
        using pool = testPool(gpu);
        const logits = f32(pool, "logits", x);
        const bt = pool.upload("targets", targets);
        const losses = pool.create("losses", R * 4), lse = pool.create("lse", R * 4);
        const tag = `${backward ? "backward" : "forward"} ${variant} R=${R} V=${V}`;
        await runPlan(gpu, (plan) => {
          if (!backward) {
            crossentropyForward(plan, { losses, lse, logits, targets: bt }, { R, V }, variant);
            return;
          }
          const lseRef = f32(pool, "lse_ref", want.lse);
          crossentropyBackward(
            plan,
            {
              logits,
              lse: lseRef,
              targets: bt,
              dloss: f32(pool, "dloss", [dloss]),
            },
            { R, V },
            variant,
          );
        });
        if (backward) {
          assertClose(tag, await read(gpu, logits, R * V), wantD, { atol: 1e-8, rtol: 1e-5 });
          continue;
        }
        const tol = { atol: 1e-6, rtol: 1e-6 };
        assertClose(`${tag} losses`, await read(gpu, losses, R), want.losses, tol);
        const gotLse = await read(gpu, lse, R);
        assertClose(`${tag} lse`, gotLse.filter(live), want.lse.filter(live), tol);
      }
    }
  }
});

Deno.test("lossMean sums 100003 values like the f64 reference", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const N = 100003;
  const x = randn(N, 9, 5).map(Math.abs);
  const loss = pool.create("loss", 4);
  await runPlan(gpu, (plan) => {
    lossMean(plan, { loss, losses: f32(pool, "x", x), scale: f32(pool, "s", [1 / N]) }, { N });
  });
  assertClose("loss mean N=100003", await read(gpu, loss, 1), [ref.lossMean(x, 1 / N)], {
    atol: 0,
    rtol: 1e-6,
  });
});
