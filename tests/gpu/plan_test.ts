import assert from "node:assert/strict";
import { BufferPool, readF32 } from "../../src/gpu/buffers.ts";
import { defineKernel } from "../../src/gpu/kernel.ts";
import { grid, MAX_WORKGROUPS_PER_DIM, Plan } from "../../src/gpu/plan.ts";
import { testGpu } from "../helpers/gpu.ts";

/** out[i] = a * inp[i] + b for i < N, over a 2-D grid of linear workgroup indices. */
const AXPB = defineKernel(
  "axpb_test",
  `struct Params { N: u32, a: f32, b: f32 }
  @group(0) @binding(0) var<uniform> p: Params;
  @group(0) @binding(1) var<storage, read_write> out: array<f32>;
  @group(0) @binding(2) var<storage, read> inp: array<f32>;
  override WG: u32 = 64;
  @compute @workgroup_size(WG)
  fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
    let i = g.x + g.y * nwg.x * WG;
    if (i < p.N) { out[i] = p.a * inp[i] + p.b; }
  }`,
);

Deno.test("grid splits workgroups over x and y, x within 65535, covering n", () => {
  assert.deepEqual(grid(0), [1, 1, 1]);
  assert.deepEqual(grid(7), [7, 1, 1]);
  assert.deepEqual(grid(MAX_WORKGROUPS_PER_DIM), [65535, 1, 1]);
  for (const n of [65536, 100000, 131071, 1 << 24]) {
    const [x, y, z] = grid(n);
    assert.ok(x <= MAX_WORKGROUPS_PER_DIM && y <= MAX_WORKGROUPS_PER_DIM && z === 1, `${n}`);
    assert.ok(x * y >= n && x * (y - 1) < n, `grid(${n}) = ${x}x${y}`);
  }
});

Deno.test("a plan records dispatches, copies and clears, and replays them in order", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const N = 200;
  const inp = pool.upload("inp", Float32Array.from({ length: N }, (_, i) => i));
  const out = pool.create("out", 4 * N), copy = pool.create("copy", 4 * N);
  using plan = new Plan(gpu, "test");
  plan.dispatch(AXPB, { out, inp }, { N, a: 2, b: 1 }, [Math.ceil(N / 64)]);
  plan.copy(out, 0, copy, 0, 4 * N);
  plan.clear(out, 0, 16); // after the copy: copy keeps the values, out loses its first 4
  assert.equal(plan.length, 3);
  await plan.check();
  plan.submit();
  const want = Float32Array.from({ length: N }, (_, i) => 2 * i + 1);
  assert.deepEqual(await readF32(gpu, copy, 0, N), want);
  const got = await readF32(gpu, out, 0, N);
  assert.deepEqual(got.subarray(0, 4), new Float32Array(4));
  assert.deepEqual(got.subarray(4), want.subarray(4));
});

/** out[i] = texel i of a texture W texels wide (4 floats each), for i < N: reads a texture binding. */
const TEXREAD = defineKernel(
  "texread_test",
  `struct Params { N: u32, W: u32 }
  @group(0) @binding(0) var<uniform> p: Params;
  @group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
  @group(0) @binding(2) var t: texture_2d<f32>;
  @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
    if (g.x < p.N) { out[g.x] = textureLoad(t, vec2u(g.x % p.W, g.x / p.W), 0); }
  }`,
);

Deno.test("copyToTexture copies rows of a buffer range into a texture that a kernel reads", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  // 2 full rows of 64 texels (bytesPerRow 1024) from byte 256 of the buffer, then 5 texels of a
  // third row from where the rows end.
  const W = 64, N = 2 * W + 5;
  const data = Float32Array.from({ length: 64 + 4 * N }, (_, i) => i);
  const src = pool.upload("src", data), out = pool.create("out", 16 * N);
  const tex = gpu.device.createTexture({
    size: [W, 3],
    format: "rgba32float",
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  try {
    using plan = new Plan(gpu, "test");
    plan.copyToTexture({ buffer: src, offset: 256, bytesPerRow: 1024 }, {
      texture: tex,
      origin: [0, 0],
    }, [W, 2]);
    plan.copyToTexture({ buffer: src, offset: 256 + 2048, bytesPerRow: 1024 }, {
      texture: tex,
      origin: [0, 2],
    }, [5, 1]);
    plan.dispatch(TEXREAD, { out, t: tex.createView() }, { N, W }, [Math.ceil(N / 64)]);
    assert.equal(plan.length, 3);
    assert.equal(plan.dispatches, 1);
    assert.throws(
      () => plan.dispatch(TEXREAD, { out, t: src }, { N, W }, [1]),
      (e: Error) => e instanceof TypeError && /'t' needs a texture view/.test(e.message),
    );
    assert.throws(
      () => plan.dispatch(AXPB, { out: tex.createView(), inp: src }, { N: 1, a: 1, b: 0 }, [1]),
      (e: Error) => e instanceof TypeError && /'out' needs a buffer/.test(e.message),
    );
    await plan.check();
    plan.submit();
    assert.deepEqual(await readF32(gpu, out, 0, 4 * N), data.subarray(64));
    await plan.debugRun(); // copies and the dispatch each in their own error scope: no error
  } finally {
    tex.destroy();
  }
});

/** out[i] = texel i of a read-only storage texture W texels wide, for i < N. */
const STEXREAD = defineKernel(
  "stexread_test",
  `struct Params { N: u32, W: u32 }
  @group(0) @binding(0) var<uniform> p: Params;
  @group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
  @group(0) @binding(2) var t: texture_storage_2d<rgba32float, read>;
  @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
    if (g.x < p.N) { out[g.x] = textureLoad(t, vec2u(g.x % p.W, g.x / p.W)); }
  }`,
);

Deno.test("a kernel reads a read-only storage texture binding (rgba32float)", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const W = 16, N = 3 * W - 7;
  const data = Float32Array.from({ length: 4 * 3 * W }, (_, i) => i * 0.5 - 7);
  const out = pool.create("out", 16 * N);
  const tex = gpu.device.createTexture({
    size: [W, 3],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  try {
    gpu.device.queue.writeTexture({ texture: tex }, data, { bytesPerRow: 16 * W }, [W, 3]);
    using plan = new Plan(gpu, "test");
    plan.dispatch(STEXREAD, { out, t: tex.createView() }, { N, W }, [1]);
    assert.throws(
      () => plan.dispatch(STEXREAD, { out, t: out }, { N, W }, [1]),
      (e: Error) => e instanceof TypeError && /'t' needs a texture view/.test(e.message),
    );
    await plan.check();
    plan.submit();
    assert.deepEqual(await readF32(gpu, out, 0, 4 * N), data.subarray(0, 4 * N));
  } finally {
    tex.destroy();
  }
});

Deno.test("setParams changes a recorded dispatch for the next submit; 2-D grids index linearly", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const N = 300;
  const inp = pool.upload("inp", Float32Array.from({ length: N }, (_, i) => i));
  const out = pool.create("out", 4 * N);
  using plan = new Plan(gpu, "test");
  // 5 workgroups of 64 as 3 x 2: the kernel's linear index must still reach every element.
  const h = plan.dispatch(AXPB, { out, inp }, { N, a: 1, b: 0 }, [3, 2]);
  await plan.check();
  plan.submit();
  assert.deepEqual(await readF32(gpu, out, 0, N), Float32Array.from({ length: N }, (_, i) => i));
  plan.setParams(h, { N, a: -1, b: 0.5 });
  plan.submit();
  const want = Float32Array.from({ length: N }, (_, i) => 0.5 - i);
  assert.deepEqual(await readF32(gpu, out, 0, N), want);
  await plan.debugRun(); // the same dispatch in its own error scope: no error
});

Deno.test("dispatch rejects missing, unknown and misaligned bindings and bad params", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const a = pool.create("a", 1024), b = pool.create("b", 1024);
  using plan = new Plan(gpu, "test");
  const P = { N: 1, a: 1, b: 0 };
  const bad = (f: () => unknown, type: ErrorConstructor, re: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof type && re.test(e.message));
  bad(() => plan.dispatch(AXPB, { out: a }, P, [1]), TypeError, /binding 'inp' is missing/);
  bad(
    () => plan.dispatch(AXPB, { out: a, inp: b, extra: b }, P, [1]),
    TypeError,
    /it has no binding 'extra'/,
  );
  bad(
    () => plan.dispatch(AXPB, { out: { buffer: a, offset: 4 }, inp: b }, P, [1]),
    TypeError,
    /offset 4 is not 256-byte aligned/,
  );
  bad(() => plan.dispatch(AXPB, { out: a, inp: b }, { N: 1, a: 1 }, [1]), TypeError, /'b' is/);
  bad(
    () => plan.dispatch(AXPB, { out: a, inp: b }, { ...P, c: 1 }, [1]),
    TypeError,
    /it has no param 'c'/,
  );
  bad(() => plan.dispatch(AXPB, { out: a, inp: b }, { ...P, a: NaN }, [1]), TypeError, /'a' is/);
  bad(() => plan.dispatch(AXPB, { out: a, inp: b }, P, [65536]), RangeError, /out of range/);
  // Aligned ranges are accepted.
  plan.dispatch(AXPB, { out: { buffer: a, offset: 256, size: 256 }, inp: b }, P, [1]);
  await plan.check();
});

Deno.test("check() rejects, naming the kernel, when a bind group fails validation", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const notStorage = pool.create("map", 64, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const inp = pool.create("inp", 64);
  using plan = new Plan(gpu, "test");
  plan.dispatch(AXPB, { out: notStorage, inp }, { N: 1, a: 1, b: 0 }, [1]);
  await assert.rejects(plan.check(), /Cannot bind kernel axpb_test: /);
});
