import {
  allMatmulVariants,
  CPU_TEX_DEFAULTS,
  matmulBackward,
  matmulBackwardDinp,
  matmulBackwardDweight,
  type MatmulBackwardTiles,
  matmulForward,
  type MatmulTiles,
  matmulVariants,
  parseMatmulVariant,
  TEX_MIN_MACS,
} from "../../src/ops/matmul.ts";
import * as ref from "../../src/reference/matmul.ts";
import { equal, throws } from "node:assert/strict";
import { Plan } from "../../src/gpu/plan.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
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

Deno.test("reference matmul backward matches finite differences (N=3, C=5, OC=7)", () => {
  const N = 3, C = 5, OC = 7;
  const inp = randn(N * C, 1), weight = randn(OC * C, 2), g = randn(N * OC, 3);
  const loss = () => {
    const out = ref.matmulForward(inp, weight, N, C, OC);
    return out.reduce((s, v, i) => s + v * g[i], 0);
  };
  const dinp = ref.matmulBackwardDinp(g, weight, N, C, OC);
  const dweight = ref.matmulBackwardDweight(g, inp, N, C, OC);
  assertClose("fd dinp", Array.from(inp, (_, i) => finiteDiff(loss, inp, i)), dinp, {
    atol: 1e-7,
    rtol: 1e-6,
  });
  assertClose("fd dweight", Array.from(weight, (_, i) => finiteDiff(loss, weight, i)), dweight, {
    atol: 1e-7,
    rtol: 1e-6,
  });
});

// Shapes for the vec4 kernels (C and OC multiples of 4; others take the scalar fallbacks): the
// smallest, odd N and sizes that are not multiples of any tile or k stage, N=1, C=288, and a
// block count above one in each dimension of the GPU-shaped tiles (N=131, OC=132).
const SHAPES: [number, number, number][] = [
  [1, 4, 4],
  [37, 44, 132],
  [1, 288, 76],
  [19, 288, 300],
  [
    131,
    20,
    132,
  ],
];
// The default pick (for these small shapes reg_wg8_16x12 on a CPU adapter), register tiles
// given as a shape, register tiles covering every rows count (4, 8, 12, 16) and columns count
// (4, 8, 12, 16) of the generated kernels, texture-operand tiles covering rows 8 and 32 (every
// group of 8) and columns 4, 8, 12, 16, more than one subgroup per workgroup, and the CPU
// defaults of larger shapes (each is a large unrolled shader that llvmpipe takes seconds to
// compile, 15 s for tex_wg8_32x12, so not every candidate), and every GPU-shaped variant (small
// shaders; they cannot be timed here, only checked).
function _variants(kind: "forward" | "dinp" | "dweight"): (MatmulTiles | string | undefined)[] {
  const reg = ["reg_wg64_4x4", "reg_wg8_16x16", "reg_wg8_12x12", "reg_wg16_8x8"];
  reg.push("tex_wg16_8x8", "tex_wg8_8x16", ...new Set(Object.values(CPU_TEX_DEFAULTS)));
  const tile = allMatmulVariants(kind).filter((n) => n.startsWith("tile_"));
  return [undefined, { WG: 4, TM: 8, TN: 12 }, ...reg, ...tile];
}

function _tol(C: number) {
  return { atol: 1e-5 * Math.sqrt(C), rtol: 1e-4 };
}

/**
 * Records with `record`; false when the variant is refused because it does not fit this device
 * (workgroup size or memory above the device's limits; split-K with fewer than two slices of N).
 */
function _fits(record: () => void): boolean {
  try {
    record();
    return true;
  } catch (e) {
    if (e instanceof RangeError && /device's limit|split-K|subgroups/.test(e.message)) return false;
    throw e;
  }
}

function _tag(v: MatmulTiles | string | undefined): string {
  return v === undefined ? "default" : typeof v === "string" ? v : JSON.stringify(v);
}

Deno.test("matmulForward matches reference for every variant (odd shapes, =, +=)", async () => {
  const gpu = await testGpu();
  for (const [N, C, OC] of SHAPES) {
    using pool = testPool(gpu);
    const inp = randn(N * C, 1), weight = randn(OC * C, 2), prev = randn(N * OC, 3);
    const want = ref.matmulForward(inp, weight, N, C, OC);
    const wantAcc = want.map((v, i) => v + prev[i]);
    const bi = f32(pool, "inp", inp), bw = f32(pool, "w", weight);
    for (const variant of _variants("forward")) {
      const out = f32(pool, "out", prev), out2 = f32(pool, "out2", prev);
      let fits = true;
      await runPlan(gpu, (plan) => {
        fits = _fits(() => {
          matmulForward(plan, { out, inp: bi, weight: bw }, { N, C, OC }, variant);
          matmulForward(
            plan,
            { out: out2, inp: bi, weight: bw },
            { N, C, OC, accumulate: true },
            variant,
          );
        });
      });
      if (!fits) continue;
      const tag = `forward N=${N} C=${C} OC=${OC} ${_tag(variant)}`;
      assertClose(tag, await read(gpu, out, N * OC), want, _tol(C));
      assertClose(`${tag} +=`, await read(gpu, out2, N * OC), wantAcc, _tol(C));
    }
  }
});

Deno.test("matmulBackwardDinp matches reference for every variant (odd shapes, =, +=, OC chunks)", async () => {
  const gpu = await testGpu();
  for (const [N, C, OC] of [...SHAPES, [3, 8, 4100]]) {
    using pool = testPool(gpu);
    const dout = randn(N * OC, 4), weight = randn(OC * C, 5), prev = randn(N * C, 6);
    const want = ref.matmulBackwardDinp(dout, weight, N, C, OC);
    const wantAcc = want.map((v, i) => v + prev[i]);
    const bd = f32(pool, "dout", dout), bw = f32(pool, "w", weight);
    for (const variant of _variants("dinp")) {
      const dinp = f32(pool, "dinp", prev), dinp2 = f32(pool, "dinp2", prev);
      let fits = true;
      await runPlan(gpu, (plan) => {
        fits = _fits(() => {
          matmulBackwardDinp(plan, { dinp, dout: bd, weight: bw }, { N, C, OC }, variant);
          matmulBackwardDinp(
            plan,
            { dinp: dinp2, dout: bd, weight: bw },
            { N, C, OC, accumulate: true },
            variant,
          );
        });
      });
      if (!fits) continue;
      const tag = `dinp N=${N} C=${C} OC=${OC} ${_tag(variant)}`;
      assertClose(tag, await read(gpu, dinp, N * C), want, _tol(OC));
      assertClose(`${tag} +=`, await read(gpu, dinp2, N * C), wantAcc, _tol(OC));
    }
  }
});

Deno.test("matmulBackwardDweight accumulates the reference for every variant, split-K included", async () => {
  const gpu = await testGpu();
  // N=131 and 400: split-K slices of unequal length (the last one short), S reduced when N is small.
  for (const [N, C, OC] of [...SHAPES, [400, 8, 12]]) {
    using pool = testPool(gpu);
    const dout = randn(N * OC, 7), inp = randn(N * C, 8), prev = randn(OC * C, 9);
    const want = ref.matmulBackwardDweight(dout, inp, N, C, OC).map((v, i) => v + prev[i]);
    const bd = f32(pool, "dout", dout), bi = f32(pool, "inp", inp);
    for (const variant of _variants("dweight")) {
      const dweight = f32(pool, "dweight", prev);
      let fits = true;
      await runPlan(gpu, (plan) => {
        fits = _fits(() =>
          matmulBackwardDweight(plan, { dweight, dout: bd, inp: bi }, { N, C, OC }, variant)
        );
      });
      if (!fits) continue;
      const tag = `dweight N=${N} C=${C} OC=${OC} ${_tag(variant)}`;
      assertClose(tag, await read(gpu, dweight, OC * C), want, _tol(N));
    }
  }
});

Deno.test("matmul variants: names parse, bad names and oversized tiles are refused", async () => {
  const gpu = await testGpu();
  for (const kind of ["forward", "dinp", "dweight"] as const) {
    for (const n of allMatmulVariants(kind)) parseMatmulVariant(n);
  }
  const bads = ["reg_wg8_3x4", "tile_16x16_9x4", "tile_16x16_4x4_k1", "tile_3x3_1x1", "x"];
  bads.push("tex_wg4_8x8", "tex_wg8_4x8", "tex_wg8_40x8", "tex_wg8_8x20");
  for (const bad of bads) {
    throws(() => parseMatmulVariant(bad), RangeError, bad);
  }
  using pool = testPool(gpu);
  using plan = new Plan(gpu, "test");
  const b = pool.create("b", 4096);
  // 32x32 invocations with 8x8 each stage 2 x 256 rows x 80 bytes = 40 KiB of workgroup memory.
  const big = () =>
    matmulForward(plan, { out: b, inp: b, weight: b }, { N: 2, C: 8, OC: 8 }, "tile_32x32_8x8");
  if (gpu.limits.maxComputeWorkgroupStorageSize < 40960) throws(big, RangeError);
  throws(
    () =>
      matmulForward(
        plan,
        { out: b, inp: b, weight: b },
        { N: 64, C: 8, OC: 8 },
        "tile_16x16_4x4_k4",
      ),
    RangeError, // split-K is for dweight only
  );
  // The CPU adapter's candidates are the register tiles, plain and with texture operands (these
  // only from TEX_MIN_MACS multiply-adds); the default first: CPU_TEX_DEFAULTS where the device
  // has subgroups and the matmul is that large, else reg_wg8_16x12.
  for (const kind of ["forward", "dinp", "dweight"] as const) {
    const cands = matmulVariants(gpu, kind, { N: 2048, C: 288, OC: 768 });
    if (!gpu.isCpu) continue;
    const want = gpu.subgroups && gpu.adapterInfo.subgroupMinSize >= 8
      ? CPU_TEX_DEFAULTS[kind]
      : "reg_wg8_16x12";
    if (cands[0] !== want || cands.some((c) => !/^(reg|tex)_/.test(c))) {
      throw new Error(`unexpected CPU candidates of ${kind}: ${cands}`);
    }
    const small = matmulVariants(gpu, kind, { N: 64, C: 64, OC: TEX_MIN_MACS / 4096 - 4 });
    if (small[0] !== "reg_wg8_16x12" || small.some((c) => c.startsWith("tex_"))) {
      throw new Error(`unexpected CPU candidates of ${kind} below TEX_MIN_MACS: ${small}`);
    }
  }
});

Deno.test("matmul tex_* variants need subgroups: refused without them, the CPU default is then reg_wg8_16x12", async () => {
  using gpu = await acquireGpu({ features: [] });
  using pool = testPool(gpu);
  using plan = new Plan(gpu, "test");
  const b = pool.create("b", 4096), p = { N: 4, C: 8, OC: 8 };
  throws(
    () => matmulForward(plan, { out: b, inp: b, weight: b }, p, "tex_wg8_32x4"),
    RangeError,
    "subgroups",
  );
  const cands = matmulVariants(gpu, "dweight", { N: 2048, C: 288, OC: 768 });
  if (gpu.isCpu) equal(cands[0], "reg_wg8_16x12");
  equal(cands.some((c) => c.startsWith("tex_")), false);
});

// matmulBackward with the default picks, register tiles, GPU-shaped tiles with split-K, and
// texture-operand tiles.
const BACKWARD_VARIANTS: (MatmulBackwardTiles | undefined)[] = [
  undefined,
  { dinp: { WG: 64, TM: 4, TN: 4 }, dweight: { WG: 64, TM: 4, TN: 4 } },
  { dinp: { WG: 4, TM: 8, TN: 12 }, dweight: { WG: 4, TM: 8, TN: 12 } },
  { dinp: "tile_16x16_4x4", dweight: "tile_8x8_4x4_k8" },
  { dinp: "tex_wg16_8x4", dweight: "tex_wg8_8x16" },
];

Deno.test("matmulBackward matches reference: dinp =, dinp +=, dweight += (odd, scalar, chunked shapes)", async () => {
  const gpu = await testGpu();
  const shapes = [...SHAPES, [3, 8, 4100], [33, 48, 67], [1, 7, 5]];
  for (const [N, C, OC] of shapes) {
    for (const t of BACKWARD_VARIANTS) {
      using pool = testPool(gpu);
      const dout = randn(N * OC, 21), inp = randn(N * C, 22), weight = randn(OC * C, 23);
      const prevDinp = randn(N * C, 24), prevDw = randn(OC * C, 25), prevDw2 = randn(OC * C, 26);
      const di = ref.matmulBackwardDinp(dout, weight, N, C, OC);
      const dw = ref.matmulBackwardDweight(dout, inp, N, C, OC);
      const dinp = f32(pool, "dinp", prevDinp), dinp2 = f32(pool, "dinp2", prevDinp);
      const dweight = f32(pool, "dweight", prevDw), dweight2 = f32(pool, "dweight2", prevDw2);
      const bd = f32(pool, "dout", dout), bi = f32(pool, "inp", inp), bw = f32(pool, "w", weight);
      let fits = true;
      await runPlan(gpu, (plan) => {
        fits = _fits(() =>
          matmulBackward(plan, { dinp, dweight, dout: bd, inp: bi, weight: bw }, { N, C, OC }, t)
        );
        if (!fits) return;
        matmulBackward(
          plan,
          { dinp: dinp2, dweight: dweight2, dout: bd, inp: bi, weight: bw },
          { N, C, OC, accumulate: true },
          t,
        );
      });
      if (!fits) continue;
      const tag = `backward N=${N} C=${C} OC=${OC} ${t ? JSON.stringify(t) : "default"}`;
      assertClose(`${tag} dinp =`, await read(gpu, dinp, N * C), di, _tol(OC));
      const di2 = di.map((v, i) => v + prevDinp[i]);
      assertClose(`${tag} dinp +=`, await read(gpu, dinp2, N * C), di2, _tol(OC));
      const dw1 = dw.map((v, i) => v + prevDw[i]), dw2 = dw.map((v, i) => v + prevDw2[i]);
      assertClose(`${tag} dweight +=`, await read(gpu, dweight, OC * C), dw1, _tol(N));
      assertClose(`${tag} dweight += (2)`, await read(gpu, dweight2, OC * C), dw2, _tol(N));
    }
  }
});

Deno.test("matmulBackward sums two layers' dinp into one buffer, dweights apart (SwiGLU's w1, w3)", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const N = 9, C = 20, OC = 36, s = { N, C, OC };
  const inp = randn(N * C, 31), w1 = randn(OC * C, 32), w3 = randn(OC * C, 33);
  const d1 = randn(N * OC, 34), d3 = randn(N * OC, 35), prev = randn(N * C, 36);
  const prevW1 = randn(OC * C, 37), prevW3 = randn(OC * C, 38);
  const dinp = f32(pool, "dinp", prev), bi = f32(pool, "inp", inp);
  const dw1 = f32(pool, "dw1", prevW1), dw3 = f32(pool, "dw3", prevW3);
  const b1 = { dout: f32(pool, "d1", d1), weight: f32(pool, "w1", w1) };
  const b3 = { dout: f32(pool, "d3", d3), weight: f32(pool, "w3", w3) };
  await runPlan(gpu, (plan) => {
    matmulBackward(plan, { dinp, dweight: dw1, inp: bi, ...b1 }, s);
    matmulBackward(plan, { dinp, dweight: dw3, inp: bi, ...b3 }, { ...s, accumulate: true });
  });
  const a = ref.matmulBackwardDinp(d1, w1, N, C, OC), b = ref.matmulBackwardDinp(d3, w3, N, C, OC);
  const want = a.map((v, i) => v + b[i]); // prev is overwritten by the first, = call
  assertClose("dinp = d1·w1 + d3·w3", await read(gpu, dinp, N * C), want, _tol(OC));
  const g1 = ref.matmulBackwardDweight(d1, inp, N, C, OC).map((v, i) => v + prevW1[i]);
  const g3 = ref.matmulBackwardDweight(d3, inp, N, C, OC).map((v, i) => v + prevW3[i]);
  assertClose("dw1 +=", await read(gpu, dw1, OC * C), g1, _tol(N));
  assertClose("dw3 +=", await read(gpu, dw3, OC * C), g3, _tol(N));
});

Deno.test("matmulForward binds sub-ranges of bigger buffers (a layer's weight slice)", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const N = 5, C = 24, OC = 40, L = 3;
  // Three stacked weights, each padded to a 256-byte boundary as the tensor table lays them out.
  const stride = Math.ceil((OC * C * 4) / 256) * 64;
  const all = randn(L * stride, 10), inp = randn(N * C, 11);
  const weights = pool.upload("weights", Float32Array.from(all));
  const out = pool.create("out", L * 256 + N * OC * 4);
  const bi = f32(pool, "inp", inp);
  await runPlan(gpu, (plan) => {
    matmulForward(plan, {
      out: { buffer: out, offset: 256, size: N * OC * 4 },
      inp: bi,
      weight: { buffer: weights, offset: 2 * stride * 4, size: OC * C * 4 },
    }, { N, C, OC });
  });
  const w2 = all.subarray(2 * stride, 2 * stride + OC * C);
  const got = (await read(gpu, out, 64 + N * OC)).subarray(64);
  assertClose("forward layer 2 slice", got, ref.matmulForward(inp, w2, N, C, OC), _tol(C));
});

Deno.test("matmul scalar fallbacks match reference when C or OC is not a multiple of 4", async () => {
  const gpu = await testGpu();
  for (const [N, C, OC] of [[3, 45, 8], [2, 8, 6], [33, 48, 67], [1, 7, 5]]) {
    using pool = testPool(gpu);
    const inp = randn(N * C, 11), weight = randn(OC * C, 12), dout = randn(N * OC, 13);
    const prevOut = randn(N * OC, 14), prevDinp = randn(N * C, 15), prevDw = randn(OC * C, 16);
    const out = f32(pool, "out", prevOut), dinp = f32(pool, "dinp", prevDinp);
    const dweight = f32(pool, "dweight", prevDw);
    const bi = f32(pool, "inp", inp), bw = f32(pool, "w", weight), bd = f32(pool, "dout", dout);
    await runPlan(gpu, (plan) => {
      matmulForward(plan, { out, inp: bi, weight: bw }, { N, C, OC, accumulate: true });
      matmulBackwardDinp(plan, { dinp, dout: bd, weight: bw }, { N, C, OC });
      matmulBackwardDweight(plan, { dweight, dout: bd, inp: bi }, { N, C, OC });
    });
    const tag = `scalar N=${N} C=${C} OC=${OC}`;
    const fwd = ref.matmulForward(inp, weight, N, C, OC).map((v, i) => v + prevOut[i]);
    assertClose(`${tag} forward +=`, await read(gpu, out, N * OC), fwd, _tol(C));
    const di = ref.matmulBackwardDinp(dout, weight, N, C, OC);
    assertClose(`${tag} dinp`, await read(gpu, dinp, N * C), di, _tol(OC));
    const dw = ref.matmulBackwardDweight(dout, inp, N, C, OC).map((v, i) => v + prevDw[i]);
    assertClose(`${tag} dweight`, await read(gpu, dweight, OC * C), dw, _tol(N));
  }
});

Deno.test("matmul launchers reject bad sizes and tiles", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  using plan = new Plan(gpu, "test");
  const b = pool.create("b", 4096);
  throws(
    () => matmulBackwardDweight(plan, { dweight: b, dout: b, inp: b }, { N: 0, C: 8, OC: 8 }),
    RangeError,
  );
  throws(
    () =>
      matmulForward(plan, { out: b, inp: b, weight: b }, { N: 2, C: 8, OC: 8 }, {
        WG: 8,
        TM: 3,
        TN: 4,
      }),
    RangeError,
  );
  // matmulBackward checks both kernels' tiles before it records either dispatch.
  const all = { dinp: b, dweight: b, dout: b, inp: b, weight: b };
  const bad = { WG: 8, TM: 5, TN: 4 };
  throws(() => matmulBackward(plan, all, { N: 2, C: 8, OC: 8 }, { dweight: bad }), RangeError);
  throws(() => matmulBackward(plan, all, { N: 2, C: 8, OC: 8 }, { dinp: bad }), RangeError);
  throws(() => matmulBackward(plan, all, { N: 2, C: 0, OC: 8 }), RangeError);
  equal(plan.length, 0);
});
