import assert from "node:assert/strict";
import {
  BufferPool,
  Readback,
  readBuffer,
  readF32,
  roundUp,
  STORAGE_USAGE,
  writeBuffer,
} from "../../src/gpu/buffers.ts";
import { testGpu } from "../helpers/gpu.ts";

Deno.test("roundUp rounds up to a multiple", () => {
  assert.deepEqual([0, 1, 4, 5, 15, 16, 17].map((n) => roundUp(n, 16)), [
    0,
    16,
    16,
    16,
    16,
    16,
    32,
  ]);
  assert.equal(roundUp(257, 256), 512);
});

Deno.test("BufferPool labels its buffers, rounds sizes to 16 bytes, counts and destroys them", async () => {
  const gpu = await testGpu();
  const pool = new BufferPool(gpu);
  const a = pool.create("a", 1), b = pool.create("b", 100);
  assert.equal(a.label, "a");
  assert.equal(a.size, 16);
  assert.equal(b.size, 112);
  assert.equal(a.usage, STORAGE_USAGE);
  assert.equal(pool.bytes, 128);
  const c = pool.upload("c", new Float32Array([1, 2, 3]));
  assert.equal(c.size, 16);
  assert.deepEqual(await readF32(gpu, c, 0, 3), new Float32Array([1, 2, 3]));
  pool[Symbol.dispose]();
  assert.equal(pool.bytes, 0);
  // A destroyed buffer cannot be copied from: the pool really destroyed it.
  gpu.device.pushErrorScope("validation");
  const enc = gpu.device.createCommandEncoder();
  const dst = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(a, 0, dst, 0, 16);
  gpu.device.queue.submit([enc.finish()]);
  assert.ok(await gpu.device.popErrorScope(), "copy from a destroyed buffer should fail");
  dst.destroy();
});

Deno.test("BufferPool.create refuses a buffer above maxBufferSize with a RangeError", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  assert.throws(
    () => pool.create("huge", gpu.limits.maxBufferSize + 1),
    /Cannot allocate huge: \d+ bytes exceeds maxBufferSize/,
  );
  assert.equal(pool.bytes, 0);
});

Deno.test("writeBuffer pads odd byte lengths and honours offsets; readBuffer reads ranges", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const buf = pool.create("bytes", 32);
  writeBuffer(gpu, buf, new Uint8Array(32).fill(9));
  writeBuffer(gpu, buf, new Uint8Array([1, 2, 3]), 8); // 3 bytes: padded to 4 with a zero
  const all = new Uint8Array(await readBuffer(gpu, buf));
  assert.deepEqual([...all.subarray(4, 16)], [9, 9, 9, 9, 1, 2, 3, 0, 9, 9, 9, 9]);
  assert.deepEqual([...new Uint8Array(await readBuffer(gpu, buf, 8, 3))], [1, 2, 3]);
  const f = pool.upload("f", new Float32Array([0.5, 1.5, 2.5, 3.5]));
  assert.deepEqual(await readF32(gpu, f, 1, 2), new Float32Array([1.5, 2.5]));
});

Deno.test("Readback reuses one staging buffer across reads", async () => {
  const gpu = await testGpu();
  using pool = new BufferPool(gpu);
  const src = pool.upload("src", new Float32Array([7, 8, 9, 10]));
  using rb = new Readback(gpu, 8, "loss");
  for (const [offset, want] of [[0, [7, 8]], [8, [9, 10]]] as const) {
    const enc = gpu.device.createCommandEncoder();
    rb.record(enc, src, offset);
    gpu.device.queue.submit([enc.finish()]);
    assert.deepEqual([...new Float32Array(await rb.read())], want);
  }
});
