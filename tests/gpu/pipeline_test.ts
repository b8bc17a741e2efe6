import assert from "node:assert/strict";
import { defineKernel } from "../../src/gpu/kernel.ts";
import { PipelineCache } from "../../src/gpu/pipeline.ts";
import { testGpu } from "../helpers/gpu.ts";

const FILL = defineKernel(
  "fill_test",
  `struct Params { N: u32, v: f32 }
  @group(0) @binding(0) var<uniform> p: Params;
  @group(0) @binding(1) var<storage, read_write> out: array<f32>;
  @group(0) @binding(2) var<storage, read> inp: array<f32>;
  override WG: u32 = 64;
  override K: u32 = 1;
  @compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {
    if (g.x < p.N) { out[g.x] = p.v + f32(K) * inp[g.x]; }
  }`,
);

Deno.test("PipelineCache creates one pipeline per kernel and constants, in any key order", async () => {
  const gpu = await testGpu();
  const cache = new PipelineCache(gpu.device);
  assert.equal(cache.size, 0);
  const a = cache.get(FILL, { WG: 64, K: 2 });
  assert.equal(cache.get(FILL, { K: 2, WG: 64 }), a);
  assert.equal(cache.size, 1);
  const b = cache.get(FILL, { WG: 32, K: 2 });
  assert.notEqual(b, a);
  const c = cache.get(FILL);
  assert.notEqual(c, a);
  assert.equal(cache.size, 3);
  assert.equal(a.pipeline.label, "fill_test");
});

Deno.test("PipelineCache refuses a constant the kernel does not declare as override", async () => {
  const gpu = await testGpu();
  const cache = new PipelineCache(gpu.device);
  assert.throws(
    () => cache.get(FILL, { WG: 64, TM: 2 }),
    (e: Error) =>
      e instanceof TypeError &&
      /Cannot build kernel fill_test: no override constant 'TM'/.test(e.message),
  );
  assert.equal(cache.size, 0);
});

Deno.test("a cached pipeline's layout matches the kernel's bindings (uniform, read_write, read)", async () => {
  const gpu = await testGpu();
  const cache = new PipelineCache(gpu.device);
  const { layout } = cache.get(FILL);
  const buf = (usage: number) => gpu.device.createBuffer({ size: 64, usage });
  const uni = buf(GPUBufferUsage.UNIFORM), st = buf(GPUBufferUsage.STORAGE);
  const bind = async (entries: GPUBindGroupEntry[]) => {
    gpu.device.pushErrorScope("validation");
    gpu.device.createBindGroup({ layout, entries });
    return await gpu.device.popErrorScope();
  };
  const ok = [
    { binding: 0, resource: { buffer: uni } },
    { binding: 1, resource: { buffer: st } },
    { binding: 2, resource: { buffer: st } },
  ];
  assert.equal(await bind(ok), null);
  // A storage buffer where the layout wants a uniform one is rejected.
  assert.ok(await bind([{ binding: 0, resource: { buffer: st } }, ok[1], ok[2]]));
  // A missing binding is rejected.
  assert.ok(await bind(ok.slice(0, 2)));
  uni.destroy();
  st.destroy();
});
