import assert from "node:assert/strict";
import {
  adamwUpdate,
  decodeStepStatus,
  globalNorm,
  partialsLength,
  STEP_STATUS_BYTES,
  stepGuard,
} from "../../src/ops/adamw.ts";
import * as ref from "../../src/reference/adamw.ts";
import { writeBuffer } from "../../src/gpu/buffers.ts";
import { Plan } from "../../src/gpu/plan.ts";
import { REPO_ROOT } from "../helpers/data.ts";
import { assertClose, f32, randn, read, runPlan, testGpu, testPool } from "../helpers/gpu.ts";

interface Fixture {
  beta1: number;
  beta2: number;
  eps: number;
  clip: number;
  shapes: number[][];
  weight_decay: number[];
  init: string[];
  steps: {
    step: number;
    lr: number;
    grads: string[];
    norm: number;
    params: string[];
    m: string[];
    v: string[];
  }[];
}

const fixture: Fixture = JSON.parse(
  Deno.readTextFileSync(`${REPO_ROOT}/tests/fixtures/adamw.json`),
);

function _f32(b64: string): Float32Array<ArrayBuffer> {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

/** Tolerance relative to the largest magnitude of `want` (the "rel" assertClose prints). */
function _rel(want: ArrayLike<number>, rel: number): { atol: number; rtol: number } {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]));
  return { atol: m * rel, rtol: 0 };
}

for (const [N, clip] of [[1, 1], [4097, 0], [1_000_003, 1], [1_000_003, 1e9]]) {
  Deno.test(`globalNorm matches reference for N=${N} clip=${clip}`, async () => {
    const gpu = await testGpu();
    using pool = testPool(gpu);
    const g = randn(N, N, 0.01);
    const out = pool.create("out", 8);
    const partials = pool.create("partials", partialsLength(N) * 4);
    await runPlan(gpu, (plan) => {
      globalNorm(plan, { out, partials, grads: f32(pool, "g", g) }, { N, clip });
    });
    const want = ref.globalNorm(g, clip);
    assertClose(`norm, coefficient N=${N} clip=${clip}`, await read(gpu, out, 2), want, {
      atol: 0,
      rtol: 1e-6,
    });
  });
}

Deno.test("adamwUpdate and globalNorm match torch.optim.AdamW with clip_grad_norm_ for 3 steps", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const sizes = fixture.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  // One buffer per state, each tensor at a 256-byte aligned offset (64 floats), zero padding.
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total += Math.ceil(n / 64) * 64;
  }
  const pack = (arrays: ArrayLike<number>[]) => {
    const a = new Float32Array(total);
    arrays.forEach((x, t) => a.set(x, offsets[t]));
    return a;
  };
  const params = pool.upload("params", pack(fixture.init.map(_f32)));
  const grads = pool.create("grads", total * 4);
  const m = pool.create("m", total * 4), v = pool.create("v", total * 4);
  const hyper = pool.create("hyper", 6 * 4), gnorm = pool.create("gnorm", 8);
  const partials = pool.create("partials", partialsLength(total) * 4);
  using plan = new Plan(gpu, "adamw");
  globalNorm(plan, { out: gnorm, partials, grads }, { N: total, clip: fixture.clip });
  sizes.forEach((n, t) => {
    const r = (buffer: GPUBuffer) => ({ buffer, offset: offsets[t] * 4, size: n * 4 });
    adamwUpdate(plan, {
      params: r(params),
      grads: r(grads),
      m: r(m),
      v: r(v),
      hyper,
      gnorm,
    }, { N: n, weight_decay: fixture.weight_decay[t] });
  });
  await plan.check();
  // The f64 reference, run alongside, must agree with torch too.
  const rp = fixture.init.map((s) => Float64Array.from(_f32(s)));
  const rm = sizes.map((n) => new Float64Array(n)), rv = sizes.map((n) => new Float64Array(n));
  const { beta1, beta2, eps } = fixture;
  for (const st of fixture.steps) {
    const h = {
      lr: st.lr,
      beta1,
      beta2,
      eps,
      bc1: 1 - beta1 ** st.step,
      bc2: 1 - beta2 ** st.step,
    };
    writeBuffer(gpu, hyper, Float32Array.of(h.lr, beta1, beta2, eps, h.bc1, h.bc2));
    const g = st.grads.map(_f32);
    writeBuffer(gpu, grads, pack(g));
    plan.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    const norm = await read(gpu, gnorm, 2);
    assertClose(`step ${st.step} norm`, [norm[0]], [st.norm], { atol: 0, rtol: 1e-6 });
    const [rn, rc] = ref.globalNorm(g.flatMap((x) => Array.from(x)), fixture.clip);
    assertClose(`step ${st.step} reference norm`, [rn], [st.norm], { atol: 0, rtol: 1e-6 });
    const [gp, gm, gv] = [
      await read(gpu, params, total),
      await read(gpu, m, total),
      await read(
        gpu,
        v,
        total,
      ),
    ];
    sizes.forEach((n, t) => {
      ref.adamwUpdate(rp[t], g[t], rm[t], rv[t], h, rc, fixture.weight_decay[t]);
      const slice = (a: Float32Array) => a.subarray(offsets[t], offsets[t] + n);
      const tag = `step ${st.step} tensor ${t}`;
      for (
        const [name, got, want, refv] of [
          ["params", slice(gp), _f32(st.params[t]), rp[t]],
          ["m", slice(gm), _f32(st.m[t]), rm[t]],
          ["v", slice(gv), _f32(st.v[t]), rv[t]],
        ] as const
      ) {
        assertClose(`${tag} ${name} vs torch`, got, want, _rel(want, 2e-6));
        assertClose(`${tag} ${name} reference vs torch`, refv, want, _rel(want, 2e-6));
      }
    });
  }
});

Deno.test("adamwUpdate (vec4 kernel, many workgroups) matches reference for N=100000", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const N = 100000;
  const p0 = randn(N, 1), g = randn(N, 2, 0.1), m0 = randn(N, 3, 0.01);
  const v0 = randn(N, 4, 1e-3).map(Math.abs);
  const h = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, bc1: 1 - 0.9 ** 7, bc2: 1 - 0.95 ** 7 };
  const params = f32(pool, "p", p0), m = f32(pool, "m", m0), v = f32(pool, "v", v0);
  await runPlan(gpu, (plan) => {
    adamwUpdate(plan, {
      params,
      grads: f32(pool, "g", g),
      m,
      v,
      hyper: f32(pool, "h", [h.lr, h.beta1, h.beta2, h.eps, h.bc1, h.bc2]),
      gnorm: f32(pool, "n", [2, 0.5]),
    }, { N, weight_decay: 0.1 });
  });
  const rp = Float64Array.from(p0), rm = Float64Array.from(m0), rv = Float64Array.from(v0);
  ref.adamwUpdate(rp, g, rm, rv, h, 0.5, 0.1);
  assertClose("params N=100000", await read(gpu, params, N), rp, _rel(rp, 1e-6));
  assertClose("m N=100000", await read(gpu, m, N), rm, _rel(rm, 1e-6));
  assertClose("v N=100000", await read(gpu, v, N), rv, _rel(rv, 1e-6));
});

Deno.test("stepGuard matches reference on finite, NaN, +inf and -inf norms and losses", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const gnorm = pool.create("gnorm", 8), loss = pool.create("loss", 4);
  const status = pool.create("status", STEP_STATUS_BYTES);
  using plan = new Plan(gpu, "guard");
  stepGuard(plan, { gnorm, loss, status });
  await plan.check();
  const big = 3.4e38; // finite, near f32's max
  const steps: [number, number][] = [
    [1.5, 2.25],
    [NaN, 2.5],
    [0.5, 3],
    [2, Infinity],
    [-Infinity, 1],
    [NaN, NaN],
    [big, big],
    [0, 0],
    [Infinity, 7],
  ];
  const want = ref.stepStatus();
  for (const [k, [n, l]] of steps.entries()) {
    writeBuffer(gpu, gnorm, Float32Array.of(n, 0.75));
    writeBuffer(gpu, loss, Float32Array.of(l));
    plan.submit();
    const wantNorm: [number, number] = [Math.fround(n), 0.75];
    ref.stepGuard(want, wantNorm, Math.fround(l));
    const got = decodeStepStatus((await read(gpu, status, 12)).buffer);
    const tag = `step ${k} (norm ${n}, loss ${l})`;
    for (const key of Object.keys(want) as (keyof typeof want)[]) {
      assert.ok(Object.is(got[key], want[key]), `${tag}: ${key} ${got[key]} want ${want[key]}`);
    }
    const g = await read(gpu, gnorm, 2);
    assert.ok(Object.is(g[1], wantNorm[1]), `${tag}: clip coefficient ${g[1]}`);
  }
  assert.equal(want.bad, 5);
  assert.equal(want.first, 2);
  assert.equal(want.last, 9);
});

Deno.test("a gradient with one NaN skips the AdamW step on the GPU; the next finite step is exact", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const N = 4100; // vec4 kernel; a second tensor of 3 floats uses the scalar kernel
  const sizes = [N, 3], offsets = [0, 4160], total = 4224;
  const init = randn(total, 11, 0.5), m0 = randn(total, 12, 0.01);
  const v0 = randn(total, 13, 1e-3).map(Math.abs);
  const params = f32(pool, "p", init), m = f32(pool, "m", m0), v = f32(pool, "v", v0);
  const grads = pool.create("grads", total * 4);
  const gnorm = pool.create("gnorm", 8), loss = f32(pool, "loss", [2.5]);
  const status = pool.create("status", STEP_STATUS_BYTES);
  const partials = pool.create("partials", partialsLength(total) * 4);
  const h = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, bc1: 0.1, bc2: 0.05 };
  const hyper = f32(pool, "hyper", [h.lr, h.beta1, h.beta2, h.eps, h.bc1, h.bc2]);
  using plan = new Plan(gpu, "adamw_guarded");
  globalNorm(plan, { out: gnorm, partials, grads }, { N: total, clip: 1 });
  stepGuard(plan, { gnorm, loss, status });
  sizes.forEach((n, t) => {
    const r = (buffer: GPUBuffer) => ({ buffer, offset: offsets[t] * 4, size: n * 4 });
    adamwUpdate(plan, { params: r(params), grads: r(grads), m: r(m), v: r(v), hyper, gnorm }, {
      N: n,
      weight_decay: 0.1,
    });
  });
  await plan.check();
  const g = new Float32Array(total);
  g.set(randn(N, 14, 0.1), 0);
  g.set(randn(3, 15, 0.1), offsets[1]);
  const before = [
    await read(gpu, params, total),
    await read(gpu, m, total),
    await read(gpu, v, total),
  ];
  for (const bad of [NaN, Infinity]) {
    const gb = g.slice();
    gb[offsets[1] + 1] = bad; // one bad element, in the scalar-kernel tensor
    writeBuffer(gpu, grads, gb);
    plan.submit();
    const after = [
      await read(gpu, params, total),
      await read(gpu, m, total),
      await read(gpu, v, total),
    ];
    for (const [i, name] of ["params", "m", "v"].entries()) {
      assert.ok(
        after[i].every((x, j) => Object.is(x, before[i][j])),
        `${name} changed on a ${bad} step`,
      );
    }
  }
  assert.deepEqual(
    [decodeStepStatus((await read(gpu, status, 12)).buffer)].map((s) => [s.steps, s.bad, s.run]),
    [[2, 2, 2]],
  );
  writeBuffer(gpu, grads, g);
  plan.submit();
  const [gp, gm, gv] = [
    await read(gpu, params, total),
    await read(gpu, m, total),
    await read(gpu, v, total),
  ];
  const [, coef] = ref.globalNorm(g, 1);
  sizes.forEach((n, t) => {
    const sl = <T extends ArrayLike<number>>(a: T) =>
      Array.from(a).slice(offsets[t], offsets[t] + n);
    const rp = Float64Array.from(sl(before[0])), rm = Float64Array.from(sl(before[1]));
    const rv = Float64Array.from(sl(before[2]));
    ref.adamwUpdate(rp, sl(g), rm, rv, h, coef, 0.1);
    assertClose(`tensor ${t} params after the skips`, sl(gp), rp, _rel(rp, 1e-6));
    assertClose(`tensor ${t} m after the skips`, sl(gm), rm, _rel(rm, 1e-6));
    assertClose(`tensor ${t} v after the skips`, sl(gv), rv, _rel(rv, 1e-6));
  });
  assert.equal(decodeStepStatus((await read(gpu, status, 12)).buffer).run, 0);
});
