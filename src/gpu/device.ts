/**
 * WebGPU adapter and device acquisition. babyllama asks for the adapter's own limits (so a GPU
 * binds a whole batch's logits in one buffer) and for the optional features it can use when the
 * adapter grants them, and records what it asked for and what it got on {@link Gpu}.
 *
 * Deno 2.9 (wgpu 29) facts this relies on: `adapter.features` lists only WebGPU-standard names,
 * so `subgroups` and wgpu's `timestamp-query-inside-passes` never appear there although
 * `requestDevice` grants them; the only way to know is to ask (a failed `requestDevice` leaves
 * the adapter usable). WGSL that uses subgroups must not say `enable subgroups;` (naga rejects
 * it); the builtins work without it once the device has the feature.
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
        "DENO_WEBGPU_BACKEND=vulkan|gl picks a backend; `deno run -A main.ts doctor` shows what was found",
    );
    this.name = "NoAdapterError";
  }
}

/**
 * A GPU was required (`--require-gpu`, `BABYLLAMA_REQUIRE_GPU=1`) but the adapter is a CPU
 * implementation (llvmpipe/lavapipe, or one marked as a fallback adapter).
 */
export class FallbackAdapterError extends Error {
  /** The adapter's description. */
  readonly description: string;

  /**
   * Creates the error naming the adapter.
   *
   * @param description the adapter's description
   */
  constructor(description: string) {
    super(
      `Cannot use the adapter '${description}': it is a CPU (fallback) adapter and a GPU is ` +
        "required (--require-gpu or BABYLLAMA_REQUIRE_GPU=1); `deno run -A main.ts doctor` says why",
    );
    this.name = "FallbackAdapterError";
    this.description = description;
  }
}

/** The limits babyllama asks for; each is requested at the adapter's own value. */
export const WANTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
] as const;

/** Name of one of the {@link WANTED_LIMITS}. */
export type WantedLimit = typeof WANTED_LIMITS[number];

/**
 * Optional features babyllama asks for when the adapter grants them: `subgroups` (subgroup
 * builtins in kernels), `shader-f16`, `timestamp-query` (the per-kernel profile of
 * `src/gpu/profile.ts`) and wgpu's `timestamp-query-inside-passes` (recorded for kernels and
 * tools; Deno 2.9 exposes no `writeTimestamp` to use it from JavaScript).
 */
export const WANTED_FEATURES = [
  "subgroups",
  "shader-f16",
  "timestamp-query",
  "timestamp-query-inside-passes",
] as const;

/** Name of one of the {@link WANTED_FEATURES}. */
export type WantedFeature = typeof WANTED_FEATURES[number];

/**
 * The conservative request used when asking for the adapter's own limits fails: the limits
 * babyllama ran with before it asked for more (clamped to the adapter).
 */
const CONSERVATIVE_LIMITS: Readonly<Record<WantedLimit, number>> = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 2 ** 31 - 1,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
};

/** Minimum limits below which babyllama cannot run at all. */
const REQUIRED_LIMITS = {
  maxStorageBufferBindingSize: 64 * 1024 * 1024,
  maxStorageBuffersPerShaderStage: 8,
} as const;

/** The adapter's identity, copied from `GPUAdapterInfo` into a plain object. */
export interface AdapterInfo {
  /** PCI vendor id as a decimal string (`"4318"` = 0x10de NVIDIA, `"65541"` = 0x10005 Mesa). */
  vendor: string;
  /** Architecture (empty in Deno 2.9). */
  architecture: string;
  /** Device id as a decimal string. */
  device: string;
  /** Human-readable name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** Whether WebGPU marks it a fallback (CPU) adapter. */
  isFallbackAdapter: boolean;
  /** Smallest subgroup size (0 when unknown). */
  subgroupMinSize: number;
  /** Largest subgroup size (0 when unknown). */
  subgroupMaxSize: number;
}

/** What {@link acquireGpu} asked the adapter for, and what it had to give up. */
export interface GpuRequest {
  /** Limits passed to `requestDevice` (the adapter's values unless a fallback was needed). */
  limits: Partial<Record<WantedLimit, number>>;
  /** Optional features passed to `requestDevice`. */
  features: string[];
  /** Messages of `requestDevice` calls that failed before the one that succeeded. */
  failures: string[];
}

/** Options for {@link acquireGpu}. */
export interface GpuOptions {
  /** Print the adapter description on stderr. */
  verbose?: boolean;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /**
   * Refuse a CPU (fallback) adapter with a {@link FallbackAdapterError}. Defaults to the
   * environment variable `BABYLLAMA_REQUIRE_GPU` (`1` or `true`).
   */
  requireGpu?: boolean;
  /**
   * Upper bounds on limits: the device is asked for min(adapter, bound) and
   * {@link Gpu.limits} reports min(device, bound), so that whatever babyllama sizes from its
   * limits (classifier chunks, tiles) behaves as on a smaller adapter. For tests.
   */
  limits?: Partial<Record<WantedLimit, number>>;
  /** Optional features to ask for (default {@link WANTED_FEATURES}; `[]` asks for none). */
  features?: readonly string[];
}

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

function _envFlag(name: string): boolean {
  try {
    return /^(1|true|yes)$/i.test(Deno.env.get(name) ?? "");
  } catch {
    return false;
  }
}

/** Copies `GPUAdapterInfo` (whose fields are getters) into an {@link AdapterInfo}. */
export function adapterInfo(adapter: GPUAdapter): AdapterInfo {
  const i = adapter.info as GPUAdapterInfo & Partial<AdapterInfo>;
  return {
    vendor: String(i.vendor ?? ""),
    architecture: String(i.architecture ?? ""),
    device: String(i.device ?? ""),
    description: String(i.description ?? ""),
    isFallbackAdapter: Boolean(i.isFallbackAdapter),
    subgroupMinSize: Number(i.subgroupMinSize ?? 0),
    subgroupMaxSize: Number(i.subgroupMaxSize ?? 0),
  };
}

/** A readable name for an adapter: its description, else vendor and device ids. */
export function adapterName(info: AdapterInfo): string {
  return info.description || `${info.vendor} ${info.device}`.trim() || "unknown adapter";
}

/** Whether an adapter is a CPU implementation (marked fallback, or llvmpipe/lavapipe/SwiftShader). */
export function isCpuAdapter(info: AdapterInfo): boolean {
  return info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(info.description);
}

/** Copies every numeric limit of a `GPUSupportedLimits` into a plain object. */
function _limitsObject(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in limits) {
    const v = (limits as unknown as Record<string, unknown>)[k];
    if (typeof v === "number") out[k] = v;
  }
  return out;
}

/** An acquired adapter and device, plus the pipeline cache shared by everything on it. */
export class Gpu implements Disposable {
  /** The adapter's description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  readonly description: string;
  /** Pipelines keyed by kernel name and override constants. */
  readonly pipelines: PipelineCache;
  /** Whether the adapter is a CPU implementation (llvmpipe/lavapipe, or marked fallback). */
  readonly isCpu: boolean;
  /** The adapter's identity. */
  readonly adapterInfo: AdapterInfo;
  /**
   * The optional features the device has, by the names babyllama asks for (see
   * {@link WANTED_FEATURES}; `device.features` spells the wgpu ones with a `wgpu-` prefix).
   */
  readonly features: ReadonlySet<string>;
  /** What was asked of the adapter. */
  readonly request: GpuRequest;
  /**
   * The limits babyllama works within: the device's, lowered by {@link GpuOptions.limits}.
   * Size buffers and tiles from these, not from `device.limits`.
   */
  readonly limits: GPUSupportedLimits;

  /**
   * Wraps an adapter and its device, with an empty pipeline cache.
   *
   * @param adapter the adapter
   * @param device the device requested from it
   * @param request what was asked for (recorded for reports)
   * @param caps upper bounds applied to {@link Gpu.limits}
   */
  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    request: GpuRequest = { limits: {}, features: [], failures: [] },
    caps: Partial<Record<WantedLimit, number>> = {},
  ) {
    this.adapterInfo = adapterInfo(adapter);
    this.description = adapterName(this.adapterInfo);
    this.isCpu = isCpuAdapter(this.adapterInfo);
    this.request = request;
    const granted = new Set<string>();
    for (const f of device.features) granted.add(f.startsWith("wgpu-") ? f.slice(5) : f);
    this.features = granted;
    const limits = _limitsObject(device.limits);
    for (const [k, cap] of Object.entries(caps)) {
      if (cap !== undefined && k in limits) limits[k] = Math.min(limits[k], cap);
    }
    this.limits = Object.freeze(limits) as unknown as GPUSupportedLimits;
    this.pipelines = new PipelineCache(device);
  }

  /** Whether kernels may use subgroup builtins (the device has `subgroups`). */
  get subgroups(): boolean {
    return this.features.has("subgroups");
  }

  /** Whether timestamp queries can time passes (the device has `timestamp-query`). */
  get timestamps(): boolean {
    return this.features.has("timestamp-query");
  }

  /** Destroys the device. */
  [Symbol.dispose](): void {
    this.device.destroy();
  }
}

/**
 * Acquires an adapter and a device with the adapter's own limits and the optional features it
 * grants. When that request fails, it retries with the features probed one at a time, then with
 * conservative limits, then with no optional features, recording each failure in
 * {@link Gpu.request}.
 *
 * @returns the {@link Gpu}
 * @throws {NoAdapterError} when WebGPU or an adapter is missing, its limits are too small, or no
 *   device could be created
 * @throws {FallbackAdapterError} when a GPU is required and the adapter is a CPU implementation
 * @example
 * ```ts
 * import { acquireGpu } from "./device.ts";
 *
 * using gpu = await acquireGpu({ verbose: true });
 * console.log(gpu.description, gpu.limits.maxStorageBufferBindingSize, [...gpu.features]);
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
    throw new NoAdapterError((e as Error).message.split("\n")[0]);
  }
  if (!adapter) throw new NoAdapterError("requestAdapter returned null");
  const info = adapterInfo(adapter);
  if ((options.requireGpu ?? _envFlag("BABYLLAMA_REQUIRE_GPU")) && isCpuAdapter(info)) {
    throw new FallbackAdapterError(adapterName(info));
  }
  for (const [name, min] of Object.entries(REQUIRED_LIMITS)) {
    const have = adapter.limits[name as keyof GPUSupportedLimits] as number;
    if (have < min) {
      throw new NoAdapterError(`adapter limit ${name} is ${have}, need at least ${min}`);
    }
  }
  const caps = options.limits ?? {};
  const limitsFrom = (want: (name: WantedLimit) => number) => {
    const out: Partial<Record<WantedLimit, number>> = {};
    for (const name of WANTED_LIMITS) {
      const have = adapter!.limits[name as keyof GPUSupportedLimits] as number;
      if (typeof have !== "number") continue;
      out[name] = Math.min(have, want(name), caps[name] ?? Infinity, Number.MAX_SAFE_INTEGER);
    }
    return out;
  };
  const full = limitsFrom(() => Infinity);
  const wanted = [...(options.features ?? WANTED_FEATURES)];
  const failures: string[] = [];
  const tryDevice = async (
    limits: Partial<Record<WantedLimit, number>>,
    features: string[],
  ): Promise<GPUDevice | null> => {
    try {
      return await adapter!.requestDevice({
        requiredLimits: limits as Record<string, number>,
        requiredFeatures: features as GPUFeatureName[],
      });
    } catch (e) {
      failures.push(
        `requestDevice(features [${features.join(", ")}]): ${(e as Error).message.split("\n")[0]}`,
      );
      return null;
    }
  };
  let features = wanted;
  let limits = full;
  let device = await tryDevice(limits, features);
  if (!device && wanted.length > 0) {
    // Ask for each feature alone (the adapter may hide some, or refuse one), then all it granted.
    features = [];
    for (const f of wanted) {
      const probe = await tryDevice({}, [f]);
      if (probe) {
        probe.destroy();
        features.push(f);
      }
    }
    device = await tryDevice(limits, features);
  }
  if (!device) {
    limits = limitsFrom((name) => CONSERVATIVE_LIMITS[name]);
    device = await tryDevice(limits, features);
  }
  if (!device && features.length > 0) {
    features = [];
    device = await tryDevice(limits, features);
  }
  if (!device) throw new NoAdapterError(failures[failures.length - 1] ?? "requestDevice failed");
  const gpu = new Gpu(adapter, device, { limits, features, failures }, caps);
  if (options.verbose) console.error(`adapter: ${gpu.description}`);
  device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`error: WebGPU device lost: ${info.message}`);
  });
  return gpu;
}
