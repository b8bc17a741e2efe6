import {
  allAttentionVariants,
  ATTENTION_BACKWARD_DKDV,
  ATTENTION_BACKWARD_DQ,
  ATTENTION_FORWARD,
  attentionBackward,
  attentionForward,
} from "../../src/ops/attention.ts";
import { acquireGpu, type Gpu } from "../../src/gpu/device.ts";
import { Plan } from "../../src/gpu/plan.ts";
import type { BufferBinding } from "../../src/gpu/buffers.ts";
import * as ref from "../../src/reference/attention.ts";
import * as assert from "node:assert/strict";
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

type Sizes = ref.AttentionSizes;

function _inputs(s: Sizes, seed: number) {
  const nq = s.B * s.T * s.NH * s.HS, nk = s.B * s.T * s.NKV * s.HS;
  return {
    q: randn(nq, seed, 1.5),
    k: randn(nk, seed + 1, 1.5),
    v: randn(nk, seed + 2),
    dout: randn(nq, seed + 3),
  };
}

Deno.test("reference attentionBackward matches finite differences (GQA ratios 1, 2, 4)", () => {
  for (
    const s of [
      { B: 2, T: 3, NH: 1, NKV: 1, HS: 3 },
      { B: 1, T: 5, NH: 4, NKV: 2, HS: 3 },
      { B: 1, T: 4, NH: 4, NKV: 1, HS: 5 },
    ]
  ) {
    const { q, k, v, dout } = _inputs(s, 7);
    const loss = () => {
      const { out } = ref.attentionForward(q, k, v, s);
      let sum = 0;
      for (let i = 0; i < out.length; i++) sum += out[i] * dout[i];
      return sum;
    };
    const g = ref.attentionBackward(dout, q, k, v, s);
    for (const [name, x, dx] of [["dq", q, g.dq], ["dk", k, g.dk], ["dv", v, g.dv]] as const) {
      const fd = Float64Array.from(x, (_, i) => finiteDiff(loss, x, i));
      assertClose(`${name} ${JSON.stringify(s)}`, dx, fd, { atol: 1e-7, rtol: 1e-6 });
    }
  }
});

const SHAPES: Sizes[] = [
  { B: 1, T: 1, NH: 1, NKV: 1, HS: 6 },
  { B: 2, T: 7, NH: 3, NKV: 3, HS: 10 },
  { B: 2, T: 13, NH: 4, NKV: 2, HS: 6 },
  { B: 1, T: 19, NH: 4, NKV: 1, HS: 10 },
  { B: 1, T: 37, NH: 4, NKV: 2, HS: 48 },
  { B: 2, T: 1, NH: 2, NKV: 1, HS: 8 },
  { B: 2, T: 23, NH: 4, NKV: 1, HS: 8 },
  { B: 1, T: 41, NH: 3, NKV: 3, HS: 64 },
  { B: 1, T: 9, NH: 2, NKV: 1, HS: 12 },
  { B: 1, T: 11, NH: 2, NKV: 2, HS: 100 },
];

/**
 * Runs forward and backward of `variant` (the tuner's picks when undefined) at `s` on `gpu` and
 * checks out, lse, dq, dk and dv against the f64 reference. With `offset`, k and dout are bound
 * at that byte offset inside a larger buffer (a sub-range, as the model's pooled buffers).
 */
async function _check(
  gpu: Gpu,
  s: Sizes,
  seed: number,
  variant?: string,
  offset = 0,
): Promise<Float32Array[]> {
  using pool = testPool(gpu);
  const { q, k, v, dout } = _inputs(s, seed);
  const nq = s.B * s.T * s.NH * s.HS, nk = s.B * s.T * s.NKV * s.HS, nr = s.B * s.NH * s.T;
  const pad = new Float64Array(offset / 4).fill(Number.NaN);
  const sub = (name: string, x: Float64Array): BufferBinding =>
    offset === 0 ? f32(pool, name, x) : {
      buffer: f32(pool, name, Float64Array.from([...pad, ...x, ...pad])),
      offset,
      size: x.length * 4,
    };
  const bq = f32(pool, "q", q), bk = sub("k", k), bv = f32(pool, "v", v);
  const out = pool.create("out", nq * 4), lse = pool.create("lse", nr * 4);
  const dq = pool.create("dq", nq * 4), dk = pool.create("dk", nk * 4);
  const dv = pool.create("dv", nk * 4), scratch = pool.create("scratch", nr * 4);
  const bdout = sub("dout", dout);
  await runPlan(gpu, (plan) => {
    attentionForward(plan, { out, lse, q: bq, k: bk, v: bv }, s, variant);
    attentionBackward(
      plan,
      { dq, dk, dv, dout: bdout, q: bq, k: bk, v: bv, out, lse, scratch },
      s,
      variant === undefined ? {} : { dq: variant, dkdv: variant },
    );
  });
  const name = `${variant ?? "default"} B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;
  const want = ref.attentionForward(q, k, v, s);
  const g = ref.attentionBackward(dout, q, k, v, s);
  const tol = { atol: 2e-6, rtol: 2e-5 };
  const got = [
    await read(gpu, out, nq),
    await read(gpu, lse, nr),
    await read(gpu, dq, nq),
    await read(gpu, dk, nk),
    await read(gpu, dv, nk),
  ];
  const wants = [want.out, want.lse, g.dq, g.dk, g.dv];
  ["out", "lse", "dq", "dk", "dv"].forEach((t, i) =>
    assertClose(`${t} ${name}`, got[i], wants[i], tol)
  );
  return got;
}

// The default variants: on a CPU adapter with subgroups the tex_* kernels for HS % 4 == 0,
// HS <= 64, the scalar kernels for the others.
for (const s of SHAPES) {
  const name = `B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;
  Deno.test(`attentionForward and attentionBackward match reference for ${name}`, async () => {
    await _check(await testGpu(), s, 11 + s.T);
  });
}

Deno.test("attention tex_* variants: textures over 4096 texels wide, sub-range bindings, TM 4", async () => {
  const gpu = await testGpuWithSubgroups();
  if (!gpu || gpu.adapterInfo.subgroupMinSize < 8) return; // no tex_* on this adapter
  // k and v: 2*100*2*48/4 = 4800 texels (two texture rows, the second partial); q, dout 9600.
  await _check(gpu, { B: 2, T: 100, NH: 4, NKV: 2, HS: 48 }, 3, "tex_wg8_r2", 4096);
  // Four rows per invocation, a partial last block, GQA 4:1 (small HS: quick to compile).
  await _check(gpu, { B: 1, T: 37, NH: 4, NKV: 1, HS: 8 }, 4, "tex_wg8_r4");
});

Deno.test("attention without subgroups: tex_* refused, CPU default wg8_r2, which matches reference", async () => {
  using gpu = await acquireGpu({ features: [] });
  using pool = testPool(gpu);
  using plan = new Plan(gpu, "test");
  const x = pool.create("x", 4096), s = { B: 1, T: 4, NH: 2, NKV: 1, HS: 8 };
  assert.throws(
    () => attentionForward(plan, { out: x, lse: x, q: x, k: x, v: x }, s, "tex_wg8_r2"),
    /subgroups/,
  );
  for (const f of [ATTENTION_FORWARD, ATTENTION_BACKWARD_DQ, ATTENTION_BACKWARD_DKDV]) {
    const c = f.candidates(gpu, s);
    assert.equal(c.some((n) => n.startsWith("tex_")), false, `${f.name}: ${c}`);
    if (gpu.isCpu) assert.equal(f.fallback(gpu, s), "wg8_r2");
  }
  for (const sh of [{ B: 2, T: 23, NH: 4, NKV: 1, HS: 8 }, { B: 1, T: 9, NH: 2, NKV: 1, HS: 12 }]) {
    await _check(gpu, sh, 7);
  }
});

Deno.test("attention candidates: tex_wg8_r2 first on a CPU adapter with subgroups; malformed names refused", async () => {
  const gpu = await testGpuWithSubgroups();
  const s = { B: 8, T: 256, NH: 6, NKV: 6, HS: 48 };
  if (gpu?.isCpu && gpu.adapterInfo.subgroupMinSize >= 8) {
    for (const f of [ATTENTION_FORWARD, ATTENTION_BACKWARD_DQ, ATTENTION_BACKWARD_DKDV]) {
      const c = f.candidates(gpu, s);
      assert.equal(c[0], "tex_wg8_r2", `${f.name}: ${c}`);
      assert.equal(f.fallback(gpu, s), "tex_wg8_r2");
      assert.ok(c.includes("wg8_r2"), `${f.name}: ${c}`);
      assert.deepEqual(f.candidates(gpu, { ...s, HS: 100 }), []);
    }
  }
  const g = await testGpu();
  using pool = testPool(g);
  using plan = new Plan(g, "test");
  const x = pool.create("x", 4096), t = { B: 1, T: 4, NH: 2, NKV: 1, HS: 8 };
  for (const bad of ["tex_wg4_r2", "tex_wg8_r5", "wg8_r0", "tex_wg8", "wg2048_r1"]) {
    assert.throws(
      () => attentionForward(plan, { out: x, lse: x, q: x, k: x, v: x }, t, bad),
      RangeError,
      bad,
    );
  }
});

Deno.test("attention variants (workgroup size, rows per invocation, textures) match reference", async () => {
  const gpu = await testGpu();
  // One shape (T not a multiple of any workgroup's rows, grouped KV, HS 48) and the variants
  // that cover each rows-per-invocation count, a workgroup below and above the default's 8, the
  // storage-buffer CPU default, the GPU default, and texture variants with one and two subgroups
  // per workgroup (every vec4 pipeline is a large unrolled shader: llvmpipe takes seconds to
  // compile each, so not all of allAttentionVariants() here; the CPU default tex_wg8_r2 runs in
  // every test above).
  const tex = gpu.subgroups && gpu.adapterInfo.subgroupMinSize >= 8;
  const variants = [
    "wg8_r2",
    "wg4_r4",
    "wg8_r1",
    "wg32_r2",
    "wg64_r1",
    "tex_wg8_r1",
    "tex_wg16_r2",
  ];
  for (const v of variants) assert.ok(allAttentionVariants().includes(v), v);
  const got = new Map<string, Float32Array[]>();
  for (const v of variants.filter((v) => tex || !v.startsWith("tex_"))) {
    got.set(v, await _check(gpu, { B: 1, T: 37, NH: 4, NKV: 2, HS: 48 }, 42, v));
  }
  // A tex_* kernel does the same arithmetic in the same order as the _vec4 kernel of its shape:
  // only where the shared rows come from differs, so the results are the same bits.
  if (tex) assert.deepEqual(got.get("tex_wg8_r1"), got.get("wg8_r1"));
});

Deno.test("attentionForward rejects NKV that does not divide NH", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const x = pool.create("x", 64);
  let err: unknown;
  await runPlan(gpu, (plan) => {
    try {
      attentionForward(plan, { out: x, lse: x, q: x, k: x, v: x }, {
        B: 1,
        T: 1,
        NH: 3,
        NKV: 2,
        HS: 4,
      });
    } catch (e) {
      err = e;
    }
  });
  if (!(err instanceof RangeError)) throw new Error(`expected RangeError, got ${err}`);
});
