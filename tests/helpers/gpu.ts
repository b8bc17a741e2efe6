/**
 * Test helpers: one shared device per test process, upload/readback, deterministic random
 * inputs, finite differences, and llm.c-style tensor comparison that reports max abs and
 * relative error and the first mismatches.
 */
import { acquireGpu, Gpu } from "../../src/gpu/device.ts";
import { BufferPool, readF32 } from "../../src/gpu/buffers.ts";
import { Plan } from "../../src/gpu/plan.ts";

let _gpu: Promise<Gpu> | null = null;

/** The test process's device (created once, never destroyed: tests share it). */
export function testGpu(): Promise<Gpu> {
  _gpu ??= acquireGpu();
  return _gpu;
}

let _sgGpu: Promise<Gpu | null> | null = null;

/**
 * A device with the `subgroups` feature: the test device when it has it, else a second device
 * requested with it (Deno 2.9 grants it without listing it in adapter.features); null when the
 * adapter refuses.
 */
export function testGpuWithSubgroups(): Promise<Gpu | null> {
  _sgGpu ??= (async () => {
    const gpu = await testGpu();
    if (gpu.device.features.has("subgroups" as GPUFeatureName)) return gpu;
    try {
      const device = await gpu.adapter.requestDevice({
        requiredFeatures: ["subgroups" as GPUFeatureName],
        requiredLimits: {
          maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
          maxComputeInvocationsPerWorkgroup: gpu.limits.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: gpu.limits.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize,
        },
      });
      return new Gpu(gpu.adapter, device);
    } catch {
      return null;
    }
  })();
  return _sgGpu;
}

/** Runs `record` into a fresh plan, submits it and waits, reporting the failing kernel. */
export async function runPlan(gpu: Gpu, record: (plan: Plan) => void): Promise<void> {
  using plan = new Plan(gpu, "test");
  record(plan);
  await plan.check();
  gpu.device.pushErrorScope("validation");
  plan.submit();
  const err = await gpu.device.popErrorScope();
  if (err) throw new Error(`GPU validation error: ${err.message}`);
  await gpu.device.queue.onSubmittedWorkDone();
}

/** A pool whose buffers die with the test. */
export function testPool(gpu: Gpu): BufferPool {
  return new BufferPool(gpu);
}

/** Uploads numbers as f32. */
export function f32(pool: BufferPool, label: string, data: ArrayLike<number>): GPUBuffer {
  return pool.upload(label, Float32Array.from(data));
}

/** Reads an f32 buffer back (first `n` elements). */
export function read(gpu: Gpu, buf: GPUBuffer, n: number): Promise<Float32Array<ArrayBuffer>> {
  return readF32(gpu, buf, 0, n);
}

/** Deterministic uniform(-scale, scale) values (mulberry32), rounded to f32. */
export function randn(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = Math.fround((u * 2 - 1) * scale);
  }
  return out;
}

/** Result of {@link compare}. */
export interface Comparison {
  /** max |a - b| */
  maxAbs: number;
  /** max |a - b| / max |b| */
  relToMax: number;
  /** The first mismatches as `i: got vs want`. */
  mismatches: string[];
}

/**
 * Compares `got` with `want` (llm.c's check_tensor): elements where |got - want| > atol +
 * rtol·|want| are listed. Logs `label maxAbs relToMax` so test output shows the errors.
 *
 * @throws {Error} listing the first mismatches when any element is out of tolerance
 */
export function assertClose(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4 }: { atol?: number; rtol?: number } = {},
): Comparison {
  if (got.length !== want.length) {
    throw new Error(`${label}: length ${got.length} != ${want.length}`);
  }
  let maxAbs = 0, maxWant = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    maxWant = Math.max(maxWant, Math.abs(want[i]));
    if (!(d <= atol + rtol * Math.abs(want[i])) && mismatches.length < 5) {
      mismatches.push(`[${i}] got ${got[i]} want ${want[i]}`);
    }
  }
  const relToMax = maxWant > 0 ? maxAbs / maxWant : maxAbs;
  console.log(`  ${label}: maxAbs ${maxAbs.toExponential(2)} rel ${relToMax.toExponential(2)}`);
  if (mismatches.length > 0) {
    throw new Error(`${label} mismatch (maxAbs ${maxAbs}):\n  ${mismatches.join("\n  ")}`);
  }
  return { maxAbs, relToMax, mismatches };
}

/**
 * Central finite difference of scalar `f` with respect to `x[i]` (x modified in place then
 * restored).
 */
export function finiteDiff(f: () => number, x: Float64Array, i: number, h = 1e-6): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const fp = f();
  x[i] = x0 - h;
  const fm = f();
  x[i] = x0;
  return (fp - fm) / (2 * h);
}
