import {
  allAttentionVariants,
  attentionBackward,
  attentionForward,
} from "../../src/ops/attention.ts";
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

for (const s of SHAPES) {
  const name = `B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;
  Deno.test(`attentionForward and attentionBackward match reference for ${name}`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const { q, k, v, dout } = _inputs(s, 11 + s.T);
    const nq = s.B * s.T * s.NH * s.HS, nk = s.B * s.T * s.NKV * s.HS, nr = s.B * s.NH * s.T;
    const bq = f32(pool, "q", q), bk = f32(pool, "k", k), bv = f32(pool, "v", v);
    const out = pool.create("out", nq * 4), lse = pool.create("lse", nr * 4);
    const dq = pool.create("dq", nq * 4), dk = pool.create("dk", nk * 4);
    const dv = pool.create("dv", nk * 4), scratch = pool.create("scratch", nr * 4);
    const bdout = f32(pool, "dout", dout);
    await runPlan(gpu, (plan) => {
      attentionForward(plan, { out, lse, q: bq, k: bk, v: bv }, s);
      attentionBackward(plan, {
        dq,
        dk,
        dv,
        dout: bdout,
        q: bq,
        k: bk,
        v: bv,
        out,
        lse,
        scratch,
      }, s);
    });
    const want = ref.attentionForward(q, k, v, s);
    const tol = { atol: 2e-6, rtol: 2e-5 };
    assertClose(`out ${name}`, await read(gpu, out, nq), want.out, tol);
    assertClose(`lse ${name}`, await read(gpu, lse, nr), want.lse, tol);
    const g = ref.attentionBackward(dout, q, k, v, s);
    assertClose(`dq ${name}`, await read(gpu, dq, nq), g.dq, tol);
    assertClose(`dk ${name}`, await read(gpu, dk, nk), g.dk, tol);
    assertClose(`dv ${name}`, await read(gpu, dv, nk), g.dv, tol);
  });
}

Deno.test("attention variants (workgroup size, rows per invocation) match reference", async () => {
  const gpu = await testGpu();
  // One shape (T not a multiple of any workgroup's rows, grouped KV, HS 48) and the variants
  // that cover each rows-per-invocation count, a workgroup below and above the default's 8, and
  // the GPU default (every vec4 pipeline is a large unrolled shader: llvmpipe takes seconds to
  // compile each, so not all of allAttentionVariants() here; the default wg8_r2 runs in every
  // test above).
  const variants = ["wg4_r4", "wg8_r1", "wg32_r2", "wg64_r1", "tex_wg8_r2", "tex_wg16_r2"];
  for (const v of variants) assert.ok(allAttentionVariants().includes(v), v);
  for (const s of [{ B: 1, T: 37, NH: 4, NKV: 2, HS: 48 }]) {
    const { q, k, v, dout } = _inputs(s, 5 + s.T);
    const want = ref.attentionForward(q, k, v, s);
    const g = ref.attentionBackward(dout, q, k, v, s);
    const nq = s.B * s.T * s.NH * s.HS, nk = s.B * s.T * s.NKV * s.HS, nr = s.B * s.NH * s.T;
    using pool = testPool(gpu);
    const bq = f32(pool, "q", q), bk = f32(pool, "k", k), bv = f32(pool, "v", v);
    const bdout = f32(pool, "dout", dout);
    for (const variant of variants) {
      const out = pool.create("out", nq * 4), lse = pool.create("lse", nr * 4);
      const dq = pool.create("dq", nq * 4), dk = pool.create("dk", nk * 4);
      const dv = pool.create("dv", nk * 4), scratch = pool.create("scratch", nr * 4);
      await runPlan(gpu, (plan) => {
        attentionForward(plan, { out, lse, q: bq, k: bk, v: bv }, s, variant);
        attentionBackward(
          plan,
          { dq, dk, dv, dout: bdout, q: bq, k: bk, v: bv, out, lse, scratch },
          s,
          { dq: variant, dkdv: variant },
        );
      });
      const name = `${variant} B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;
      const tol = { atol: 2e-6, rtol: 2e-5 };
      assertClose(`out ${name}`, await read(gpu, out, nq), want.out, tol);
      assertClose(`lse ${name}`, await read(gpu, lse, nr), want.lse, tol);
      assertClose(`dq ${name}`, await read(gpu, dq, nq), g.dq, tol);
      assertClose(`dk ${name}`, await read(gpu, dk, nk), g.dk, tol);
      assertClose(`dv ${name}`, await read(gpu, dv, nk), g.dv, tol);
    }
  }
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
