import assert from "node:assert/strict";
import { acquireGpu, NoAdapterError } from "../../src/gpu/device.ts";

Deno.test("acquireGpu gives a device with the limits babyllama needs and a fresh pipeline cache", async () => {
  using gpu = await acquireGpu();
  assert.ok(gpu.description.length > 0);
  assert.ok(gpu.limits.maxStorageBufferBindingSize >= 64 * 1024 * 1024);
  assert.ok(gpu.limits.maxStorageBuffersPerShaderStage >= 8);
  assert.equal(gpu.limits, gpu.device.limits);
  assert.equal(gpu.pipelines.size, 0);
  const cpuName = /llvmpipe|lavapipe|swiftshader/i.test(gpu.description);
  assert.equal(gpu.isCpu, cpuName || gpu.adapter.info.isFallbackAdapter);
});

Deno.test("disposing a Gpu destroys its device", async () => {
  const gpu = await acquireGpu();
  gpu[Symbol.dispose]();
  const info = await gpu.device.lost;
  assert.equal(info.reason, "destroyed");
});

Deno.test("NoAdapterError is one line that says how to get an adapter", () => {
  const e = new NoAdapterError("requestAdapter returned null");
  assert.equal(e.name, "NoAdapterError");
  assert.ok(e instanceof Error);
  assert.match(e.message, /^Cannot acquire a WebGPU adapter \(requestAdapter returned null\): /);
  assert.match(e.message, /mesa-vulkan-drivers/);
  assert.match(e.message, /DENO_WEBGPU_BACKEND/);
  assert.ok(!e.message.includes("\n"));
  assert.match(new NoAdapterError().message, /^Cannot acquire a WebGPU adapter: /);
});
