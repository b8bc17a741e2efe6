/**
 * acquireGpu: the device gets the adapter's own limits (not the old 128 MiB / 16 KiB caps), the
 * optional features the adapter grants (subgroups found by asking, since Deno's
 * adapter.features hides it), caps for tests, and --require-gpu's refusal of a CPU adapter;
 * disposal and the no-adapter error.
 */
import assert from "node:assert/strict";
import {
  acquireGpu,
  FallbackAdapterError,
  NoAdapterError,
  WANTED_FEATURES,
  WANTED_LIMITS,
} from "../../src/gpu/device.ts";

const DEVICE_TS = new URL("../../src/gpu/device.ts", import.meta.url).href;

async function adapter(): Promise<GPUAdapter> {
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  assert.ok(a, "no WebGPU adapter");
  return a;
}

Deno.test("acquireGpu requests each wanted limit at the adapter's value and the device grants it", async () => {
  const a = await adapter();
  using gpu = await acquireGpu();
  assert.deepEqual(gpu.request.failures, []);
  for (const name of WANTED_LIMITS) {
    const have = a.limits[name] as number;
    const asked = gpu.request.limits[name];
    const got = gpu.device.limits[name] as number;
    console.log(`  ${name}: adapter ${have}, requested ${asked}, granted ${got}`);
    assert.equal(asked, Math.min(have, Number.MAX_SAFE_INTEGER), name);
    assert.equal(got, asked, `${name} granted`);
    assert.equal(gpu.limits[name], got, `${name} on gpu.limits`);
  }
});

Deno.test("acquireGpu gets every optional feature that requestDevice grants on its own", async () => {
  const a = await adapter();
  using gpu = await acquireGpu();
  for (const f of WANTED_FEATURES) {
    let alone = false;
    try {
      const d = await a.requestDevice({ requiredFeatures: [f as GPUFeatureName] });
      alone = true;
      d.destroy();
    } catch {
      // not granted by this adapter
    }
    console.log(`  ${f}: listed ${a.features.has(f)}, granted alone ${alone}`);
    assert.equal(gpu.features.has(f), alone, f);
  }
  assert.equal(gpu.subgroups, gpu.features.has("subgroups"));
  assert.equal(gpu.timestamps, gpu.features.has("timestamp-query"));
});

Deno.test("acquireGpu caps: gpu.limits reports the cap, features [] asks for none", async () => {
  using gpu = await acquireGpu({ limits: { maxStorageBufferBindingSize: 1 << 20 }, features: [] });
  assert.equal(gpu.limits.maxStorageBufferBindingSize, 1 << 20);
  assert.ok(gpu.device.limits.maxStorageBufferBindingSize >= 1 << 20);
  assert.equal(gpu.request.features.length, 0);
  for (const f of WANTED_FEATURES) assert.ok(!gpu.features.has(f), f);
});

Deno.test("requireGpu (option or BABYLLAMA_REQUIRE_GPU=1) refuses a CPU adapter with one line", async () => {
  const a = await adapter();
  const cpu = a.info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(a.info.description);
  const attempts: [string, () => Promise<unknown>][] = [
    ["option", () => acquireGpu({ requireGpu: true })],
    // The variable is set in a subprocess: test files run in parallel in one process, and
    // setting it here would make their acquireGpu calls fail meanwhile.
    ["env", async () => {
      const code = `import { acquireGpu } from ${JSON.stringify(DEVICE_TS)};
        try { (await acquireGpu())[Symbol.dispose](); console.log("ok"); }
        catch (e) { console.log(JSON.stringify([(e as Error).name, (e as Error).message])); }`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=ts", code],
        env: { BABYLLAMA_REQUIRE_GPU: "1", XDG_RUNTIME_DIR: "/tmp" },
        stdout: "piped",
      }).output();
      const line = new TextDecoder().decode(out.stdout).trim();
      if (line === "ok") return { [Symbol.dispose]() {} };
      const [name, message] = JSON.parse(line) as [string, string];
      // Rebuild the child's error: a FallbackAdapterError only if the child threw one.
      if (name !== "FallbackAdapterError") throw new Error(`${name}: ${message}`);
      throw Object.assign(new FallbackAdapterError(""), { message });
    }],
  ];
  for (const [how, run] of attempts) {
    if (cpu) {
      await assert.rejects(run, (e: Error) => {
        assert.ok(e instanceof FallbackAdapterError, how);
        assert.match(e.message, /^Cannot use the adapter '.*': it is a CPU \(fallback\) adapter/);
        assert.equal(e.message.split("\n").length, 1);
        return true;
      });
    } else {
      const gpu = (await run()) as { [Symbol.dispose](): void };
      gpu[Symbol.dispose]();
    }
  }
  // Without the requirement the same adapter is accepted.
  using gpu = await acquireGpu({ requireGpu: false });
  assert.equal(gpu.isCpu, cpu);
});

Deno.test("acquireGpu gives a device with the limits babyllama needs and a fresh pipeline cache", async () => {
  using gpu = await acquireGpu();
  assert.ok(gpu.description.length > 0);
  assert.ok(gpu.limits.maxStorageBufferBindingSize >= 64 * 1024 * 1024);
  assert.ok(gpu.limits.maxStorageBuffersPerShaderStage >= 8);
  for (const k of WANTED_LIMITS) assert.equal(gpu.limits[k], gpu.device.limits[k], k);
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
