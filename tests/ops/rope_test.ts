import { ropeBackward, ropeForward } from "../../src/ops/rope.ts";
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
