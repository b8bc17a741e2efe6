/**
 * `doctor`: what WebGPU gives babyllama on this machine, and what to do about it. Deno and the
 * backend, the adapter (vendor, description, fallback or not), the optional features and limits
 * babyllama asks for against what it gets, the Mesa version behind a Mesa adapter, the Vulkan
 * loader, ICD files and NVIDIA pieces, a few seconds of measurements (submit round trip,
 * dispatch cost, a matmul's GFLOP/s), the autotuner's cache and shipped table for this adapter,
 * and advice. `--json FILE` writes the same as JSON.
 *
 * @module
 */
import { type Command, type FlagValues, REQUIRE_GPU_FLAG } from "./args.ts";
import {
  acquireGpu,
  FallbackAdapterError,
  type Gpu,
  WANTED_FEATURES,
  WANTED_LIMITS,
} from "../gpu/device.ts";
import {
  type BackendReport,
  findLibrary,
  type MesaVersion,
  mesaVersion,
  type NvidiaReport,
  nvidiaReport,
  type VulkanIcds,
  vulkanIcds,
  webgpuBackend,
} from "../gpu/environment.ts";
import { Plan } from "../gpu/plan.ts";
import { BufferPool } from "../gpu/buffers.ts";
import { profilePlans } from "../gpu/profile.ts";
import { matmulForward } from "../ops/matmul.ts";
import { residualForward } from "../ops/residual.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { TUNE_FLAGS } from "./tune.ts";
import { formatTuningSection, type TuningCacheReport, tuningCacheReport } from "./doctor_tuning.ts";
export { type TuningCacheReport, tuningCacheReport, type TuningRow } from "./doctor_tuning.ts";

/** Timings taken by `doctor` (wall clock unless named `_gpu`). */
export interface DoctorMeasurements {
  /** Empty command buffer: submit and await `onSubmittedWorkDone` (ms, median of 5). */
  submit_roundtrip_ms: number;
  /** One tiny dispatch: encode, submit and await `onSubmittedWorkDone` (ms, median of 5). */
  dispatch_roundtrip_ms: number;
  /** Cost of one more tiny dispatch inside a compute pass (microseconds, from 256 in one pass). */
  dispatch_in_pass_us: number;
  /** A square-ish f32 matmul (`out = inp · weightᵀ`) through babyllama's matmul_forward. */
  matmul: {
    N: number;
    C: number;
    OC: number;
    reps: number;
    ms_wall: number;
    gflops_wall: number;
    ms_gpu: number | null;
    gflops_gpu: number | null;
  };
  /** Seconds the measurements took. */
  seconds: number;
}

/** One limit: the adapter's value, what babyllama asked for, what the device has. */
export interface LimitRow {
  /** The adapter's value. */
  adapter: number;
  /** What `requestDevice` was asked for (absent when not asked). */
  requested: number | null;
  /** The device's value. */
  granted: number;
}

/** The whole `doctor` report; `--json` writes it as is. */
export interface DoctorReport {
  /** False when no adapter was acquired, or a GPU was required and the adapter is a CPU one. */
  ok: boolean;
  /** The one-line error when not ok. */
  error: string | null;
  /** Deno's versions and the platform. */
  deno: { deno: string; v8: string; typescript: string; os: string; arch: string };
  /** The wgpu backend. */
  backend: BackendReport | null;
  /** The adapter, or null when there is none. */
  adapter: {
    vendor: string;
    vendor_hex: string;
    vendor_name: string;
    architecture: string;
    device: string;
    description: string;
    is_fallback_adapter: boolean;
    is_cpu: boolean;
    subgroup_min_size: number;
    subgroup_max_size: number;
  } | null;
  /** Optional features: asked for, granted (babyllama's names), the adapter's list, the device's. */
  features: { requested: string[]; granted: string[]; adapter_lists: string[]; device: string[] };
  /** Every limit babyllama asks for. */
  limits: Record<string, LimitRow>;
  /** `requestDevice` calls that failed before one succeeded. */
  request_failures: string[];
  /** Mesa's version when the adapter is Mesa's. */
  mesa: MesaVersion | null;
  /** The machine: NVIDIA pieces, Vulkan loader and ICDs, relevant environment variables. */
  system: {
    nvidia: NvidiaReport;
    vulkan_loader: string | null;
    vulkan_icds: VulkanIcds;
    env: Record<string, string | null>;
  };
  /** Quick timings, or null when skipped (`--no-measure`) or impossible. */
  measurements: DoctorMeasurements | null;
  /** The autotuner: mode, cache file and this adapter's entries there and in the shipped table. */
  tuning_cache: TuningCacheReport | null;
  /** What to do, one item each. */
  advice: string[];
}

const ENV_VARS = [
  "DENO_WEBGPU_BACKEND",
  "VK_DRIVER_FILES",
  "VK_ICD_FILENAMES",
  "VK_ADD_DRIVER_FILES",
  "LD_LIBRARY_PATH",
  "NVIDIA_DRIVER_CAPABILITIES",
  "NVIDIA_VISIBLE_DEVICES",
  "__EGL_VENDOR_LIBRARY_FILENAMES",
  "BABYLLAMA_REQUIRE_GPU",
  "XDG_RUNTIME_DIR",
];

const VENDORS: Record<number, string> = {
  0x10de: "NVIDIA",
  0x1002: "AMD",
  0x8086: "Intel",
  0x10005: "Mesa",
  0x13b5: "ARM",
  0x5143: "Qualcomm",
  0x106b: "Apple",
  0x1010: "Imagination",
};

function _env(name: string): string | null {
  try {
    return Deno.env.get(name) ?? null;
  } catch {
    return null;
  }
}

function _median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times the submit round trip, the cost of a dispatch, and a matmul (4096³ on a GPU, 512³ on a
 * CPU adapter), in about a second on a GPU and a few on a CPU.
 *
 * @param gpu the device
 * @returns the timings
 */
export async function measureGpu(gpu: Gpu): Promise<DoctorMeasurements> {
  const t0 = performance.now();
  const { device } = gpu;
  const wait = () => device.queue.onSubmittedWorkDone();
  using pool = new BufferPool(gpu);

  // Empty submit round trip.
  const rt: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await wait();
    if (i > 0) rt.push(performance.now() - t);
  }

  // One tiny dispatch; then 256 of them in one pass.
  const a = pool.create("a", 256), b = pool.create("b", 256), c = pool.create("c", 256);
  using one = new Plan(gpu, "doctor.one");
  residualForward(one, { out: c, inp1: a, inp2: b }, { N: 4 });
  using many = new Plan(gpu, "doctor.many");
  for (let i = 0; i < 256; i++) residualForward(many, { out: c, inp1: a, inp2: b }, { N: 4 });
  await one.check();
  await many.check();
  const single: number[] = [], batch: number[] = [];
  for (let i = 0; i < 6; i++) {
    let t = performance.now();
    one.submit();
    await wait();
    if (i > 0) single.push(performance.now() - t);
    t = performance.now();
    many.submit();
    await wait();
    if (i > 0) batch.push(performance.now() - t);
  }

  // Matmul GFLOP/s: reps dispatches in one submit.
  const big = !gpu.isCpu;
  const N = big ? 4096 : 512, C = N, OC = N, reps = big ? 5 : 3;
  const inp = pool.create("inp", N * C * 4), weight = pool.create("weight", OC * C * 4);
  const out = pool.create("out", N * OC * 4);
  const fill = new Float32Array(N * C);
  for (let i = 0; i < fill.length; i++) fill[i] = ((i * 7919) % 17) / 17 - 0.5;
  device.queue.writeBuffer(inp, 0, fill);
  device.queue.writeBuffer(weight, 0, fill);
  using mm = new Plan(gpu, "doctor.matmul");
  for (let r = 0; r < reps; r++) matmulForward(mm, { out, inp, weight }, { N, C, OC });
  await mm.check();
  mm.submit();
  await wait();
  const t = performance.now();
  mm.submit();
  await wait();
  const msWall = (performance.now() - t) / reps;
  let msGpu: number | null = null;
  if (gpu.timestamps) {
    try {
      const p = await profilePlans(gpu, [mm], { warmup: false });
      msGpu = p.gpuMs / reps;
    } catch {
      msGpu = null;
    }
  }
  const flop = 2 * N * C * OC;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    submit_roundtrip_ms: r3(_median(rt)),
    dispatch_roundtrip_ms: r3(_median(single)),
    dispatch_in_pass_us: r3(Math.max(0, (_median(batch) - _median(rt)) / 256) * 1000),
    matmul: {
      N,
      C,
      OC,
      reps,
      ms_wall: r3(msWall),
      gflops_wall: r3(flop / msWall / 1e6),
      ms_gpu: msGpu === null ? null : r3(msGpu),
      gflops_gpu: msGpu === null || msGpu <= 0 ? null : r3(flop / msGpu / 1e6),
    },
    seconds: r3((performance.now() - t0) / 1000),
  };
}

/** Advice from a report: each item says what is wrong (or limiting) and what to do. */
export function doctorAdvice(r: DoctorReport): string[] {
  const out: string[] = [];
  const nv = r.system.nvidia;
  const nvidiaIcd = r.system.vulkan_icds.files.some((f) => /nvidia/i.test(f.libraryPath + f.path));
  const icdHint =
    (nv.eglLibrary
      ? "point VK_DRIVER_FILES at an ICD json whose library_path is libEGL_nvidia.so.0 (headless " +
        `hosts; ${nv.eglLibrary} exists): {"file_format_version":"1.0.0","ICD":` +
        `{"library_path":"libEGL_nvidia.so.0","api_version":"1.3"}}`
      : "install the NVIDIA driver's Vulkan ICD (nvidia_icd.json pointing at libEGL_nvidia.so.0 or " +
        "libGLX_nvidia.so.0, same version as the driver)") +
    (r.system.vulkan_icds.unsearched.length > 0
      ? `; an NVIDIA ICD the loader does not search exists: VK_DRIVER_FILES=${
        r.system.vulkan_icds.unsearched[0]
      }`
      : "") +
    "; in a container NVIDIA_DRIVER_CAPABILITIES must include graphics (now: " +
    `${nv.driverCapabilities ?? "unset"}); DENO_WEBGPU_BACKEND=vulkan skips the GL probe`;
  if (!r.system.vulkan_loader) {
    out.push(
      "No Vulkan loader (libvulkan.so.1) was found, so only the GL backend can work: " +
        "apt-get install libvulkan1, or put Debian's libvulkan.so.1 on LD_LIBRARY_PATH " +
        "(tools/device_prepare.sh carries one in .gpu/lib).",
    );
  }
  if (!r.adapter) {
    if (nv.present) out.push(`An NVIDIA GPU is present but WebGPU found no adapter: ${icdHint}.`);
    return out;
  }
  const a = r.adapter;
  if (a.is_cpu && nv.present) {
    out.push(
      `An NVIDIA GPU is present (${nv.smi?.split("\n")[0] ?? nv.devices.join(", ")}) but ` +
        `WebGPU chose the CPU adapter '${a.description}'` +
        (nvidiaIcd ? " although an NVIDIA ICD is listed (its driver failed to load)" : "") +
        `: the Vulkan loader found no working NVIDIA driver; ${icdHint}.`,
    );
  } else if (a.is_cpu) {
    out.push(
      `'${a.description}' is a CPU adapter: right for tests and small runs; training the 15M ` +
        "model needs a GPU (README, Measured).",
    );
  }
  if (r.mesa && r.mesa.major < 24) {
    out.push(
      `Mesa ${r.mesa.version} is old (< 24): llvmpipe runs babyllama's kernels about 3x slower ` +
        "than Mesa 25 on the same machine. Debian 12: add the bookworm-backports suite and " +
        "`apt-get install -t bookworm-backports mesa-vulkan-drivers libdrm2 libdrm-amdgpu1` " +
        "(.ci/install_mesa.sh does this); Ubuntu: the kisak-mesa PPA; or unpack a newer " +
        "mesa-vulkan-drivers and point VK_DRIVER_FILES at its lvp_icd.json.",
    );
  }
  if (r.backend?.name === "gl") {
    out.push(
      "The GL backend is in use: it offers fewer features (no shader-f16 on Mesa) and compiles " +
        "shaders at first dispatch; DENO_WEBGPU_BACKEND=vulkan uses Vulkan where it works.",
    );
  }
  if (!r.features.granted.includes("timestamp-query")) {
    out.push(
      "No timestamp-query: per-kernel GPU times (bench --profile, tools/device_check.sh) are " +
        "not available on this device.",
    );
  }
  if (!a.is_cpu && !r.features.granted.includes("subgroups")) {
    out.push("No subgroups: kernels use their workgroup-memory reductions.");
  }
  const t = r.tuning_cache;
  if (t?.mode === null) {
    out.push(
      `${t.mode_source}: train, sample, eval and bench stop with a usage error until ` +
        "BABYLLAMA_TUNE is unset or one of full, cached, off.",
    );
  }
  if (t?.error) {
    out.push(
      `The tuning cache cannot be read (${t.error}): the tuner ignores it and the next ` +
        "`--tune full` run replaces it; delete it, or point --tune-cache elsewhere.",
    );
  }
  const stale = t?.entries.filter((e) => e.state !== "current").length ?? 0;
  if (stale > 0) {
    out.push(
      `${stale} of this adapter's tuning cache entries are stale (their kernels changed since): ` +
        "the tuner ignores them; the next `--tune full` run tunes those kernels again.",
    );
  }
  if (r.request_failures.length > 0) {
    out.push(
      `requestDevice needed ${r.request_failures.length} retries (kept what it could): ` +
        r.request_failures[0],
    );
  }
  return out;
}

/**
 * Builds the report: probes the machine, acquires the device as every command does, measures
 * (unless `measure` is false) and derives the advice.
 *
 * @param options `measure`: take the timings; `requireGpu`: a CPU adapter makes the report not
 *   ok; `tuneCache`: the tuning cache to report (a `--tune-cache` value)
 * @returns the report, and the device when one was acquired (the caller disposes it)
 */
export async function doctorReport(
  options: { measure?: boolean; requireGpu?: boolean; tuneCache?: string } = {},
): Promise<{ report: DoctorReport; gpu: Gpu | null }> {
  const env: Record<string, string | null> = {};
  for (const k of ENV_VARS) env[k] = _env(k);
  const report: DoctorReport = {
    ok: false,
    error: null,
    deno: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      os: Deno.build.os,
      arch: Deno.build.arch,
    },
    backend: null,
    adapter: null,
    features: { requested: [], granted: [], adapter_lists: [], device: [] },
    limits: {},
    request_failures: [],
    mesa: null,
    system: {
      nvidia: await nvidiaReport(),
      vulkan_loader: await findLibrary("libvulkan.so.1"),
      vulkan_icds: vulkanIcds(),
      env,
    },
    measurements: null,
    tuning_cache: null,
    advice: [],
  };
  let gpu: Gpu | null = null;
  try {
    gpu = await acquireGpu({ requireGpu: false });
  } catch (e) {
    report.error = (e as Error).message.split("\n")[0];
  }
  if (gpu) {
    const i = gpu.adapterInfo;
    const vendor = Number(i.vendor);
    report.adapter = {
      vendor: i.vendor,
      vendor_hex: Number.isFinite(vendor) ? "0x" + vendor.toString(16) : i.vendor,
      vendor_name: VENDORS[vendor] ?? "unknown",
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      is_fallback_adapter: i.isFallbackAdapter,
      is_cpu: gpu.isCpu,
      subgroup_min_size: i.subgroupMinSize,
      subgroup_max_size: i.subgroupMaxSize,
    };
    report.backend = await webgpuBackend(gpu.adapter);
    report.features = {
      requested: [...WANTED_FEATURES],
      granted: WANTED_FEATURES.filter((f) => gpu!.features.has(f)),
      adapter_lists: [...gpu.adapter.features].sort(),
      device: [...gpu.device.features].sort(),
    };
    for (const name of WANTED_LIMITS) {
      report.limits[name] = {
        adapter: gpu.adapter.limits[name] as number,
        requested: gpu.request.limits[name] ?? null,
        granted: gpu.device.limits[name] as number,
      };
    }
    report.request_failures = gpu.request.failures;
    report.mesa = await mesaVersion(i, report.backend.name);
    report.ok = true;
    if (options.requireGpu && gpu.isCpu) {
      report.ok = false;
      report.error = new FallbackAdapterError(gpu.description).message;
    }
    if (options.measure ?? true) {
      try {
        report.measurements = await measureGpu(gpu);
      } catch (e) {
        report.advice.push(`Measurements failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  report.tuning_cache = await tuningCacheReport(gpu, options.tuneCache);
  report.advice.push(...doctorAdvice(report));
  return { report, gpu };
}

function _num(n: number | null): string {
  return n === null ? "-" : String(n);
}

/** The report as text, as `doctor` prints it. */
export function formatDoctorReport(r: DoctorReport): string {
  const L: string[] = [];
  const row = (k: string, v: string) => L.push(`${k.padEnd(12)}${v}`);
  const more = (v: string) => L.push(`${"".padEnd(12)}${v}`);
  const d = r.deno;
  row("deno", `${d.deno} (v8 ${d.v8}, typescript ${d.typescript}), ${d.os} ${d.arch}`);
  if (r.backend) {
    const how = r.backend.source === "detected"
      ? "detected: a child process forcing it found the same adapter"
      : r.backend.source === "DENO_WEBGPU_BACKEND"
      ? "DENO_WEBGPU_BACKEND"
      : "DENO_WEBGPU_BACKEND unset; not detected";
    row("backend", `${r.backend.name} (${how})`);
  }
  const a = r.adapter;
  if (!a) row("adapter", `none: ${r.error ?? "unknown error"}`);
  else {
    row("adapter", a.description || "(no description)");
    more(
      `vendor ${a.vendor_hex} (${a.vendor_name}), device ${a.device}, architecture ${
        a.architecture || "-"
      }, fallback adapter: ${a.is_fallback_adapter ? "yes" : "no"}${a.is_cpu ? " (CPU)" : ""}`,
    );
    more(`subgroup size ${a.subgroup_min_size}..${a.subgroup_max_size}`);
  }
  if (a) row("mesa", r.mesa ? `${r.mesa.version} (read from ${r.mesa.source})` : "-");
  if (a) {
    const missing = r.features.requested.filter((f) => !r.features.granted.includes(f));
    row("features", `granted: ${r.features.granted.join(", ") || "-"}`);
    more(`not granted: ${missing.join(", ") || "-"}`);
    const w = Math.max(...WANTED_LIMITS.map((n) => n.length));
    row(
      "limits",
      `${"".padEnd(w)}  ${"adapter".padStart(13)}  ${"requested".padStart(13)}  ${
        "granted".padStart(13)
      }`,
    );
    for (const [name, l] of Object.entries(r.limits)) {
      more(
        `${name.padEnd(w)}  ${_num(l.adapter).padStart(13)}  ${_num(l.requested).padStart(13)}  ${
          _num(l.granted).padStart(13)
        }`,
      );
    }
    for (const f of r.request_failures) more(`requestDevice failed first: ${f}`);
  }
  const s = r.system;
  row("vulkan", `loader ${s.vulkan_loader ?? "not found"}`);
  const byDir = new Map<string, string[]>();
  for (const f of s.vulkan_icds.files) {
    const cut = f.path.lastIndexOf("/");
    const dir = f.path.slice(0, cut);
    byDir.set(dir, [
      ...(byDir.get(dir) ?? []),
      f.path.slice(cut + 1) + (f.error ? " (unreadable)" : ""),
    ]);
  }
  if (byDir.size === 0) more(`ICDs (${s.vulkan_icds.source}): none`);
  for (const [dir, names] of byDir) {
    more(`ICDs (${s.vulkan_icds.source}) in ${dir}: ${names.join(", ")}`);
  }
  if (s.vulkan_icds.unsearched.length > 0) {
    more(`NVIDIA ICDs the loader does not search: ${s.vulkan_icds.unsearched.join(", ")}`);
  }
  const nv = s.nvidia;
  row(
    "nvidia",
    nv.present
      ? `${nv.smi?.split("\n").join("; ") ?? nv.devices.join(", ")}; libEGL_nvidia ${
        nv.eglLibrary ?? "not found"
      }; NVIDIA_DRIVER_CAPABILITIES ${nv.driverCapabilities ?? "unset"}`
      : "none (no /dev/nvidia*, no GPU in nvidia-smi -L)",
  );
  if (r.tuning_cache) formatTuningSection(r.tuning_cache, row, more);
  const m = r.measurements;
  if (m) {
    row(
      "measured",
      `empty submit + onSubmittedWorkDone   ${m.submit_roundtrip_ms} ms (median of 5)`,
    );
    more(`one dispatch, submit and wait        ${m.dispatch_roundtrip_ms} ms (median of 5)`);
    more(`one more dispatch inside a pass      ${m.dispatch_in_pass_us} us (256 in one pass)`);
    const mm = m.matmul;
    more(
      `matmul ${mm.N}x${mm.C}x${mm.OC} f32                ${
        mm.gflops_gpu !== null ? `${mm.gflops_gpu} GFLOP/s by GPU timestamps, ` : ""
      }${mm.gflops_wall} GFLOP/s by wall clock (${mm.reps} in one submit)`,
    );
    more(`(${m.seconds} s of measurements)`);
  }
  if (r.advice.length > 0) {
    row("advice", `- ${r.advice[0]}`);
    for (const x of r.advice.slice(1)) more(`- ${x}`);
  } else row("advice", "none");
  return L.join("\n");
}

/** The `doctor` subcommand. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "what WebGPU gives babyllama here (adapter, features, limits, speed) and advice",
  usage: "[--json FILE] [--no-measure] [--require-gpu] [--tune-cache PATH]",
  flags: {
    json: { type: "string", help: "also write the report as JSON to FILE (- for stdout only)" },
    measure: {
      type: "boolean",
      default: true,
      help: "time a submit, a dispatch and a matmul (a few seconds; --no-measure skips)",
    },
    "require-gpu": REQUIRE_GPU_FLAG,
    "tune-cache": TUNE_FLAGS["tune-cache"],
  },
  async run(v: FlagValues) {
    const requireGpu = v["require-gpu"] === true ||
      /^(1|true|yes)$/i.test(_env("BABYLLAMA_REQUIRE_GPU") ?? "");
    const { report, gpu } = await doctorReport({
      measure: v.measure as boolean,
      requireGpu,
      tuneCache: v["tune-cache"] as string | undefined,
    });
    try {
      const json = v.json as string | undefined;
      if (json === "-") console.log(JSON.stringify(report, null, 2));
      else {
        if (json !== undefined) {
          await writeFileAtomic(json, new TextEncoder().encode(JSON.stringify(report, null, 2)));
        }
        if (report.adapter) console.log(formatDoctorReport(report));
      }
    } finally {
      gpu?.[Symbol.dispose]();
    }
    if (!report.adapter) {
      // One line: the acquisition error, plus what to do about a GPU that WebGPU cannot see.
      const gpuHint = report.advice.find((x) => x.startsWith("An NVIDIA GPU is present"));
      throw new Error(
        (report.error ?? "Cannot acquire a WebGPU adapter") + (gpuHint ? ` | ${gpuHint}` : ""),
      );
    }
    if (!report.ok) throw new FallbackAdapterError(report.adapter.description);
  },
};
