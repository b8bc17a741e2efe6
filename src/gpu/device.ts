/**
 * WebGPU adapter and device acquisition, with the limits babyllama needs requested and checked.
 *
 * @module
 */
import { PipelineCache } from "./pipeline.ts";

/** No WebGPU adapter could be found. The CLI prints the message, which says how to get one. */
export class NoAdapterError extends Error {
  /**
   * Creates the error with a message that says how to get an adapter.
   *
   * @param detail what was tried
   */
  constructor(detail = "") {
    super(
      "Cannot acquire a WebGPU adapter" + (detail ? ` (${detail})` : "") +
        ": install Mesa's drivers (apt-get install mesa-vulkan-drivers) or run on a machine with a GPU; " +
        "DENO_WEBGPU_BACKEND=vulkan|gl picks a backend",
    );
    this.name = "NoAdapterError";
  }
}

/** Options for {@link acquireGpu}. */
export interface GpuOptions {
  /** Print the adapter description on stderr. */
  verbose?: boolean;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

/** Limits babyllama asks for above WebGPU's defaults (clamped to what the adapter offers). */
const WANTED_LIMITS = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 2 ** 31 - 1,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
} as const;

/** Minimum limits below which babyllama cannot run at all. */
const REQUIRED_LIMITS = {
  maxStorageBufferBindingSize: 64 * 1024 * 1024,
  maxStorageBuffersPerShaderStage: 8,
} as const;

/**
 * Mesa's GL/EGL probe prints "XDG_RUNTIME_DIR is invalid or not set" when that variable is
 * missing or not an absolute path (harmless: no display is used). Point it at /tmp then.
 */
function _quietDriverWarning(): void {
  try {
    const dir = Deno.env.get("XDG_RUNTIME_DIR");
    if (!dir || !dir.startsWith("/")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  } catch {
    // no env permission: leave it
  }
}

/** An acquired adapter and device, plus the pipeline cache shared by everything on it. */
export class Gpu implements Disposable {
  /** The adapter's description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  readonly description: string;
  /** Pipelines keyed by kernel name and override constants. */
  readonly pipelines: PipelineCache;
  /** Whether the adapter is a CPU implementation (llvmpipe/lavapipe, or marked fallback). */
  readonly isCpu: boolean;

  /**
   * Wraps an adapter and its device, with an empty pipeline cache.
   *
   * @param adapter the adapter
   * @param device the device requested from it
   */
  constructor(readonly adapter: GPUAdapter, readonly device: GPUDevice) {
    const info = adapter.info;
    this.description = info.description || `${info.vendor} ${info.device}`.trim() ||
      "unknown adapter";
    this.isCpu = info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(this.description);
    this.pipelines = new PipelineCache(device);
  }

  /** The device's limits. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Destroys the device. */
  [Symbol.dispose](): void {
    this.device.destroy();
  }
}

/**
 * Acquires an adapter and a device with the limits babyllama needs.
 *
 * @returns the {@link Gpu}
 * @throws {NoAdapterError} when WebGPU or an adapter is missing, or its limits are too small
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 *
 * using gpu = await acquireGpu({ verbose: true });
 * console.log(gpu.description);
 * ```
 */
export async function acquireGpu(options: GpuOptions = {}): Promise<Gpu> {
  _quietDriverWarning();
  if (!("gpu" in navigator) || !navigator.gpu) throw new NoAdapterError("navigator.gpu is missing");
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await navigator.gpu.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    });
  } catch (e) {
    throw new NoAdapterError((e as Error).message);
  }
  if (!adapter) throw new NoAdapterError("requestAdapter returned null");
  for (const [name, min] of Object.entries(REQUIRED_LIMITS)) {
    const have = adapter.limits[name as keyof GPUSupportedLimits] as number;
    if (have < min) {
      throw new NoAdapterError(`adapter limit ${name} is ${have}, need at least ${min}`);
    }
  }
  const requiredLimits: Record<string, number> = {};
  for (const [name, want] of Object.entries(WANTED_LIMITS)) {
    const have = adapter.limits[name as keyof GPUSupportedLimits] as number;
    requiredLimits[name] = Math.min(want, have);
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const gpu = new Gpu(adapter, device);
  if (options.verbose) console.error(`adapter: ${gpu.description}`);
  device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`error: WebGPU device lost: ${info.message}`);
  });
  return gpu;
}
