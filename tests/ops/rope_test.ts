import assert from "node:assert/strict";
import { ropeBackward, ropeForward, ropeQkvBackward, ropeQkvForward } from "../../src/ops/rope.ts";
import { ropeFreqs } from "../../src/model/rope_freqs.ts";
import * as ref from "../../src/reference/rope.ts";
import { REPO_ROOT } from "../helpers/data.ts";
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

interface Fixture {
  tables: { HS: number; T: number; theta: number; freqs: string; cos: string; sin: string }[];
  apply: {
    B: number;
    T: number;
    NH: number;
    HS: number;
    inp: string;
    out: string;
    dout: string;
    dinp: string;
  };
}

const fixture: Fixture = JSON.parse(
  Deno.readTextFileSync(`${REPO_ROOT}/tests/fixtures/rope.json`),
);

function _f32(b64: string): Float32Array {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

/** Distance in units in the last place between two float32 values. */
function _ulps(a: number, b: number): number {
  const ia = new Int32Array(Float32Array.of(a).buffer)[0];
  const ib = new Int32Array(Float32Array.of(b).buffer)[0];
  const ka = ia < 0 ? 0x80000000 - ia : ia, kb = ib < 0 ? 0x80000000 - ib : ib;
  return Math.abs(ka - kb);
}

Deno.test("ropeFreqs matches PyTorch's float32 precompute_freqs_cis", () => {
  // PyTorch's float32 pow (SLEEF, 1 ulp) and cos/sin (1 ulp) are not correctly rounded, so bits
  // can differ. What must hold: every rounding step is float32 like PyTorch's, so in each column
  // whose frequency 1/theta^(2i/HS) rounds like PyTorch's, cos/sin are within 1 float32 ulp of 1
  // (2^-24) at every position, and elsewhere within
  // t * ulp(freq) plus one ulp of the angle.
  for (const tab of fixture.tables) {
    const { cos, sin } = ropeFreqs(tab.HS, tab.T, tab.theta);
    const tf = _f32(tab.freqs), half = tab.HS / 2, f = Math.fround;
    for (
      const [key, got, want] of [["cos", cos, _f32(tab.cos)], ["sin", sin, _f32(tab.sin)]] as const
    ) {
      let exact = 0, sameCols = 0, maxAbs = 0;
      for (let i = 0; i < half; i++) {
        const ours = f(1 / f(Math.pow(f(tab.theta), f((2 * i) / tab.HS))));
        if (_ulps(ours, tf[i]) > 1) throw new Error(`freq ${i} HS=${tab.HS}: >1 ulp from PyTorch`);
        const same = ours === tf[i];
        if (same) sameCols++;
        for (let t = 0; t < tab.T; t++) {
          const d = Math.abs(got[t * half + i] - want[t * half + i]);
          if (d === 0) exact++;
          maxAbs = Math.max(maxAbs, d);
          const tol = same ? 2 ** -24 : 2 ** -24 + t * Math.abs(ours - tf[i]) + t * ours * 2 ** -23;
          if (d > tol) {
            throw new Error(
              `${key}[${t},${i}] HS=${tab.HS}: ${got[t * half + i]} vs ${want[t * half + i]}`,
            );
          }
        }
      }
      console.log(
        `  ${key} HS=${tab.HS} T=${tab.T} theta=${tab.theta}: maxAbs ${maxAbs.toExponential(2)}, ` +
          `${exact}/${want.length} bit-exact, ${sameCols}/${half} frequencies bit-exact`,
      );
    }
  }
});

Deno.test("reference ropeBackward matches finite differences", () => {
  const s = { B: 2, T: 3, NH: 2, HS: 6 };
  const n = s.B * s.T * s.NH * s.HS;
  const x = randn(n, 3), w = randn(n, 4);
  const { cos, sin } = ref.ropeFreqs(s.HS, s.T);
  const loss = () => ref.ropeForward(x, cos, sin, s).reduce((a, v, i) => a + v * w[i], 0);
  const fd = Float64Array.from(x, (_, i) => finiteDiff(loss, x, i));
  assertClose("rope dinp vs finite differences", ref.ropeBackward(w, cos, sin, s), fd, {
    atol: 1e-8,
    rtol: 1e-7,
  });
});

for (
  const s of [
    { B: 1, T: 1, NH: 1, HS: 6 },
    { B: 2, T: 7, NH: 3, HS: 10 },
    { B: 3, T: 13, NH: 5, HS: 48 },
  ]
) {
  const name = `B=${s.B} T=${s.T} NH=${s.NH} HS=${s.HS}`;
  Deno.test(`ropeForward and ropeBackward match reference for ${name}`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const n = s.B * s.T * s.NH * s.HS;
    const x = randn(n, 5), dout = randn(n, 6);
    const { cos, sin } = ropeFreqs(s.HS, s.T + 3);
    const out = pool.create("out", n * 4), dinp = pool.create("dinp", n * 4);
    const bc = f32(pool, "cos", cos), bs = f32(pool, "sin", sin);
    await runPlan(gpu, (plan) => {
      ropeForward(plan, { out, inp: f32(pool, "x", x), freqs_cos: bc, freqs_sin: bs }, s);
      ropeBackward(plan, { dinp, dout: f32(pool, "dout", dout), freqs_cos: bc, freqs_sin: bs }, s);
    });
    const tol = { atol: 1e-6, rtol: 1e-6 };
    assertClose(`out ${name}`, await read(gpu, out, n), ref.ropeForward(x, cos, sin, s), tol);
    assertClose(
      `dinp ${name}`,
      await read(gpu, dinp, n),
      ref.ropeBackward(dout, cos, sin, s),
      tol,
    );
  });
}

Deno.test("ropeForward and ropeBackward match PyTorch's apply_rotary_emb and autograd", async () => {
  const a = fixture.apply;
  const s = { B: a.B, T: a.T, NH: a.NH, HS: a.HS };
  const n = a.B * a.T * a.NH * a.HS;
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const { cos, sin } = ropeFreqs(a.HS, a.T);
  const out = pool.create("out", n * 4), dinp = pool.create("dinp", n * 4);
  const bc = f32(pool, "cos", cos), bs = f32(pool, "sin", sin);
  await runPlan(gpu, (plan) => {
    ropeForward(plan, { out, inp: f32(pool, "x", _f32(a.inp)), freqs_cos: bc, freqs_sin: bs }, s);
    ropeBackward(plan, {
      dinp,
      dout: f32(pool, "dout", _f32(a.dout)),
      freqs_cos: bc,
      freqs_sin: bs,
    }, s);
  });
  const tol = { atol: 1e-6, rtol: 1e-6 };
  assertClose("out vs torch", await read(gpu, out, n), _f32(a.out), tol);
  assertClose("dinp vs torch", await read(gpu, dinp, n), _f32(a.dinp), tol);
});

Deno.test("reference ropeQkvBackward matches finite differences (GQA 2, odd T)", () => {
  const s = { B: 1, T: 3, NH: 2, NKV: 1, HS: 4 };
  const W = (s.NH + 2 * s.NKV) * s.HS, N = s.B * s.T;
  const qkv = randn(N * W, 21);
  const wq = randn(N * s.NH * s.HS, 22), wk = randn(N * s.NKV * s.HS, 23);
  const wv = randn(N * s.NKV * s.HS, 24);
  const { cos, sin } = ref.ropeFreqs(s.HS, s.T);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((acc, x, i) => acc + x * b[i], 0);
  const loss = () => {
    const o = ref.ropeQkvForward(qkv, cos, sin, s);
    return dot(o.q, wq) + dot(o.k, wk) + dot(o.v, wv);
  };
  const fd = Float64Array.from(qkv, (_, i) => finiteDiff(loss, qkv, i));
  assertClose(
    "rope_qkv dqkv vs finite differences",
    ref.ropeQkvBackward(wq, wk, wv, cos, sin, s),
    fd,
    {
      atol: 1e-8,
      rtol: 1e-7,
    },
  );
});

// GQA ratios 1, 2 and 4; T=1; widths that are not multiples of 8 (C=42, KV=10).
for (
  const s of [
    { B: 1, T: 1, NH: 1, NKV: 1, HS: 6 },
    { B: 2, T: 3, NH: 3, NKV: 3, HS: 14 },
    { B: 2, T: 7, NH: 4, NKV: 2, HS: 10 },
    { B: 3, T: 5, NH: 4, NKV: 1, HS: 48 },
  ]
) {
  const name = `B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;
  Deno.test(`ropeQkvForward and ropeQkvBackward match reference and ropeForward's bits for ${name}`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const N = s.B * s.T, C = s.NH * s.HS, KV = s.NKV * s.HS, W = C + 2 * KV;
    const qkv = randn(N * W, 31), dq = randn(N * C, 32), dk = randn(N * KV, 33);
    const dv = randn(N * KV, 34);
    const { cos, sin } = ropeFreqs(s.HS, s.T + 2);
    const bc = f32(pool, "cos", cos), bs = f32(pool, "sin", sin);
    const q = pool.create("q", N * C * 4), k = pool.create("k", N * KV * 4);
    const v = pool.create("v", N * KV * 4), dqkv = pool.create("dqkv", N * W * 4);
    // The separate kernels on the same parts, for bit equality.
    const part = (c0: number, w: number) =>
      Float32Array.from({ length: N * w }, (_, i) => qkv[Math.floor(i / w) * W + c0 + (i % w)]);
    const q1 = pool.create("q1", N * C * 4), k1 = pool.create("k1", N * KV * 4);
    const dq1 = pool.create("dq1", N * C * 4), dk1 = pool.create("dk1", N * KV * 4);
    const freqs = { freqs_cos: bc, freqs_sin: bs };
    const bdq = f32(pool, "dq", dq), bdk = f32(pool, "dk", dk);
    await runPlan(gpu, (plan) => {
      ropeQkvForward(plan, { q, k, v, qkv: f32(pool, "qkv", qkv), ...freqs }, s);
      ropeQkvBackward(plan, { dqkv, dq: bdq, dk: bdk, dv: f32(pool, "dv", dv), ...freqs }, s);
      const one = { B: s.B, T: s.T, HS: s.HS };
      ropeForward(plan, { out: q1, inp: f32(pool, "qp", part(0, C)), ...freqs }, {
        ...one,
        NH: s.NH,
      });
      ropeForward(plan, { out: k1, inp: f32(pool, "kp", part(C, KV)), ...freqs }, {
        ...one,
        NH: s.NKV,
      });
      ropeBackward(plan, { dinp: dq1, dout: bdq, ...freqs }, { ...one, NH: s.NH });
      ropeBackward(plan, { dinp: dk1, dout: bdk, ...freqs }, { ...one, NH: s.NKV });
    });
    const want = ref.ropeQkvForward(qkv, cos, sin, s);
    const tol = { atol: 1e-6, rtol: 1e-6 };
    const gq = await read(gpu, q, N * C), gk = await read(gpu, k, N * KV);
    assertClose(`q ${name}`, gq, want.q, tol);
    assertClose(`k ${name}`, gk, want.k, tol);
    assertClose(`v ${name}`, await read(gpu, v, N * KV), want.v, { atol: 0, rtol: 0 });
    const gd = await read(gpu, dqkv, N * W);
    assertClose(`dqkv ${name}`, gd, ref.ropeQkvBackward(dq, dk, dv, cos, sin, s), tol);
    assert.deepEqual(gq, await read(gpu, q1, N * C), "q: the bits of ropeForward");
    assert.deepEqual(gk, await read(gpu, k1, N * KV), "k: the bits of ropeForward");
    const dq1v = await read(gpu, dq1, N * C), dk1v = await read(gpu, dk1, N * KV);
    assert.deepEqual(part2(gd, N, W, 0, C), dq1v, "dq part: the bits of ropeBackward");
    assert.deepEqual(part2(gd, N, W, C, KV), dk1v, "dk part: the bits of ropeBackward");
  });
}

/** Columns [c0, c0 + w) of the rows of a row-major [N, W] f32 array. */
function part2(x: Float32Array, N: number, W: number, c0: number, w: number): Float32Array {
  return Float32Array.from({ length: N * w }, (_, i) => x[Math.floor(i / w) * W + c0 + (i % w)]);
}
