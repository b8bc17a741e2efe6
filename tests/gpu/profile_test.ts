/**
 * The timestamp profiler: a profiled replay computes what an ordinary one does, times every
 * dispatch (not clears), adds the times up per kernel label, and ranks a 192x256x320 matmul
 * above a 16-element residual add.
 */
import assert from "node:assert/strict";
import { acquireGpu } from "../../src/gpu/device.ts";
import { Plan } from "../../src/gpu/plan.ts";
import { formatProfile, profilePlans } from "../../src/gpu/profile.ts";
import { matmulForward } from "../../src/ops/matmul.ts";
import { residualForward } from "../../src/ops/residual.ts";
import { f32, randn, read, testGpu, testPool } from "../helpers/gpu.ts";

Deno.test("profilePlans times each dispatch and adds them up per kernel", async () => {
  const gpu = await testGpu();
  assert.ok(gpu.timestamps, "this adapter did not grant timestamp-query");
  using pool = testPool(gpu);
  const N = 192, C = 256, OC = 320;
  const inp = f32(pool, "inp", randn(N * C, 1)), weight = f32(pool, "w", randn(OC * C, 2));
  const out = pool.create("out", N * OC * 4), out2 = pool.create("out2", N * OC * 4);
  const s1 = pool.create("s1", 64), s2 = pool.create("s2", 64), small = pool.create("s3", 64);
  const a = f32(pool, "a", randn(16, 3)), b = f32(pool, "b", randn(16, 4));
  using plan = new Plan(gpu, "profiled");
  matmulForward(plan, { out, inp, weight }, { N, C, OC });
  residualForward(plan, { out: s1, inp1: a, inp2: b }, { N: 16 });
  plan.clear(out2);
  residualForward(plan, { out: s2, inp1: s1, inp2: b }, { N: 16 });
  matmulForward(plan, { out: out2, inp, weight }, { N, C, OC, accumulate: true });
  residualForward(plan, { out: small, inp1: s2, inp2: a }, { N: 16 });
  await plan.check();

  plan.submit();
  const want = [await read(gpu, out2, N * OC), await read(gpu, small, 16)];
  const p = await profilePlans(gpu, [plan], { reps: 2 });
  console.log(formatProfile(p));
  // The profiled replay (the warm-up and two timed ones) computes what the plain one did.
  assert.deepEqual(await read(gpu, out2, N * OC), want[0]);
  const r = randn(16, 3), s = randn(16, 4);
  // small = ((a + b) + b) + a
  const expect = Float32Array.from(
    r,
    (v, i) => Math.fround(Math.fround(Math.fround(v + s[i]) + s[i]) + v),
  );
  assert.deepEqual(await read(gpu, small, 16), expect);
  assert.deepEqual(want[1], expect);

  assert.equal(p.dispatches, 5);
  assert.deepEqual(p.plans, ["profiled"]);
  const mm = p.kernels.find((k) => k.kernel.startsWith("matmul_forward"));
  const res = p.kernels.find((k) => k.kernel === "residual_forward");
  assert.ok(mm && res, `kernels: ${p.kernels.map((k) => k.kernel).join(", ")}`);
  assert.equal(mm.count, 2);
  assert.equal(res.count, 3);
  assert.equal(p.kernels[0], mm, "the matmul is the slowest kernel");
  assert.ok(mm.ms / 2 > res.ms / 3, "one matmul takes longer than one 16-element add");
  const sum = p.kernels.reduce((x, k) => x + k.ms, 0);
  assert.ok(Math.abs(sum - p.gpuMs) < 1e-9);
  assert.ok(Math.abs(p.kernels.reduce((x, k) => x + k.share, 0) - 1) < 1e-9);
  assert.ok(p.gpuMs > 0 && p.gpuMs <= p.spanMs + 1e-6, `gpu ${p.gpuMs} span ${p.spanMs}`);
  assert.ok(p.spanMs <= p.wallMs * 1.05 + 0.5, `span ${p.spanMs} wall ${p.wallMs}`);
  // (Which single dispatch is slowest is left unasserted: one preempted 16-element add can
  // outlast a matmul on a loaded CPU adapter; the per-kernel totals above are robust.)
  assert.ok(p.slowest.some((d) => d.kernel === mm.kernel));
  assert.ok(p.slowest.every((d, i) => i === 0 || d.ms <= p.slowest[i - 1].ms));
});

Deno.test("profilePlans refuses a device without timestamp-query", async () => {
  using gpu = await acquireGpu({ features: [] });
  using plan = new Plan(gpu, "none");
  await assert.rejects(() => profilePlans(gpu, [plan]), TypeError);
});
