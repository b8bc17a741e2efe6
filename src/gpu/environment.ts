/**
 * What the machine offers WebGPU, read without WebGPU: the Vulkan loader and the ICD files it
 * would load, NVIDIA devices, and the Mesa version behind a Mesa adapter. Used by `doctor`.
 * Every probe degrades to "unknown" (null, []) without the permission or the tool it needs.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join } from "node:path";
import type { AdapterInfo } from "./device.ts";

/** A Vulkan ICD manifest (`*.json` naming a driver library). */
export interface IcdFile {
  /** The manifest's path. */
  path: string;
  /** Its `ICD.library_path` (a name, or a path). */
  libraryPath: string;
  /** Its `ICD.api_version` (the Vulkan API version, not the driver's). */
  apiVersion: string;
  /** Why it could not be read, if it could not. */
  error?: string;
}

/** Where the Vulkan loader looks for drivers, and what it finds there. */
export interface VulkanIcds {
  /** `VK_DRIVER_FILES`, `VK_ICD_FILENAMES` (the loader takes only these when set) or `search`. */
  source: "VK_DRIVER_FILES" | "VK_ICD_FILENAMES" | "search";
  /** The manifests the loader would read. */
  files: IcdFile[];
  /**
   * NVIDIA manifests in places the loader does not search by default (such as
   * `/usr/local/nvidia/share/vulkan/icd.d`): `VK_DRIVER_FILES` can point at them.
   */
  unsearched: string[];
}

/** NVIDIA hardware and driver pieces seen on the machine. */
export interface NvidiaReport {
  /** Whether an NVIDIA GPU seems present (device nodes or `nvidia-smi` listing a GPU). */
  present: boolean;
  /** `/dev/nvidia*` nodes. */
  devices: string[];
  /** Output of `nvidia-smi -L`, or null when it is missing or failed. */
  smi: string | null;
  /** Path of `libEGL_nvidia.so.0` (headless Vulkan ICD library), or null. */
  eglLibrary: string | null;
  /** Path of `libGLX_nvidia.so.0`, or null. */
  glxLibrary: string | null;
  /** `NVIDIA_DRIVER_CAPABILITIES` (containers need `graphics` for Vulkan), or null. */
  driverCapabilities: string | null;
}

/** Mesa's version and where it was read. */
export interface MesaVersion {
  /** e.g. `25.0.7-2~bpo12+1`. */
  version: string;
  /** Major version, e.g. 25. */
  major: number;
  /** The file (or `dpkg: <package>`) the version was read from. */
  source: string;
}

const LIB_DIRS = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/lib64",
  "/usr/lib",
  "/lib",
  "/usr/local/lib",
  "/usr/local/nvidia/lib64",
  "/usr/local/nvidia/lib",
];

function _env(name: string): string | null {
  try {
    return Deno.env.get(name) ?? null;
  } catch {
    return null;
  }
}

function _isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function _listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => join(dir, e.name)).sort();
  } catch {
    return [];
  }
}

/**
 * Runs a program and returns its stdout, or null when it is missing, fails or times out.
 *
 * @param cmd program
 * @param args arguments
 * @param timeoutMs kill it after this long
 */
export async function runQuiet(
  cmd: string,
  args: string[],
  timeoutMs = 10000,
): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

let _ldconfig: Map<string, string> | null = null;

async function _ldconfigCache(): Promise<Map<string, string>> {
  if (_ldconfig) return _ldconfig;
  const map = new Map<string, string>();
  const text = (await runQuiet("ldconfig", ["-p"])) ?? (await runQuiet("/sbin/ldconfig", ["-p"]));
  for (const line of (text ?? "").split("\n")) {
    const m = /^\s*(\S+) \(([^)]*)\) => (\S+)/.exec(line);
    if (m && !map.has(m[1]) && !/,32|i386/.test(m[2])) map.set(m[1], m[3]);
  }
  return (_ldconfig = map);
}

/**
 * Finds a shared library as the dynamic loader would: `LD_LIBRARY_PATH`, the `ldconfig` cache,
 * then the usual library directories.
 *
 * @param name file name, e.g. `libvulkan.so.1`
 * @returns its path, or null
 */
export async function findLibrary(name: string): Promise<string | null> {
  if (name.includes("/")) return _isFile(name) ? name : null;
  for (const dir of (_env("LD_LIBRARY_PATH") ?? "").split(":").filter(Boolean)) {
    if (_isFile(join(dir, name))) return join(dir, name);
  }
  const cached = (await _ldconfigCache()).get(name);
  if (cached && _isFile(cached)) return cached;
  for (const dir of LIB_DIRS) if (_isFile(join(dir, name))) return join(dir, name);
  return null;
}

function _readIcd(path: string): IcdFile {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path));
    return {
      path,
      libraryPath: String(j?.ICD?.library_path ?? ""),
      apiVersion: String(j?.ICD?.api_version ?? ""),
    };
  } catch (e) {
    return { path, libraryPath: "", apiVersion: "", error: (e as Error).message.split("\n")[0] };
  }
}

function _jsonFilesIn(entries: string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (_isFile(e)) out.push(e);
    else out.push(..._listDir(e).filter((f) => f.endsWith(".json")));
  }
  return out;
}

/**
 * The Vulkan ICD manifests the loader would read: the files (or directories) in
 * `VK_DRIVER_FILES` / `VK_ICD_FILENAMES` when set, else its search path (XDG config and data
 * directories, `/etc/vulkan/icd.d`, `/usr/local/share`, `/usr/share`), plus `VK_ADD_DRIVER_FILES`.
 */
export function vulkanIcds(): VulkanIcds {
  const driverFiles = _env("VK_DRIVER_FILES"), icdFilenames = _env("VK_ICD_FILENAMES");
  let source: VulkanIcds["source"] = "search";
  let entries: string[];
  if (driverFiles || icdFilenames) {
    source = driverFiles ? "VK_DRIVER_FILES" : "VK_ICD_FILENAMES";
    entries = (driverFiles ?? icdFilenames ?? "").split(":").filter(Boolean);
  } else {
    const home = _env("HOME") ?? "";
    const configDirs = [
      _env("XDG_CONFIG_HOME") ?? (home ? join(home, ".config") : ""),
      ...(_env("XDG_CONFIG_DIRS") ?? "/etc/xdg").split(":"),
      "/etc",
    ];
    const dataDirs = [
      _env("XDG_DATA_HOME") ?? (home ? join(home, ".local/share") : ""),
      ...(_env("XDG_DATA_DIRS") ?? "/usr/local/share:/usr/share").split(":"),
    ];
    entries = [...configDirs, ...dataDirs].filter(Boolean).map((d) => join(d, "vulkan/icd.d"));
  }
  entries.push(...(_env("VK_ADD_DRIVER_FILES") ?? "").split(":").filter(Boolean));
  const files = [...new Set(_jsonFilesIn(entries))].map(_readIcd);
  const seen = new Set(files.map((f) => f.path));
  const unsearched = _jsonFilesIn([
    "/usr/local/nvidia/share/vulkan/icd.d",
    "/usr/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
  ]).filter((p) => !seen.has(p) && /nvidia/i.test(basename(p)));
  return { source, files, unsearched };
}

/** NVIDIA device nodes, `nvidia-smi -L`, the NVIDIA EGL/GLX libraries and container settings. */
export async function nvidiaReport(): Promise<NvidiaReport> {
  const devices = _listDir("/dev").filter((p) => /^nvidia/.test(basename(p)));
  const smi = (await runQuiet("nvidia-smi", ["-L"]))?.trim() || null;
  return {
    present: devices.some((d) => /nvidia\d+$/.test(d)) || /GPU \d+:/.test(smi ?? ""),
    devices,
    smi,
    eglLibrary: await findLibrary("libEGL_nvidia.so.0"),
    glxLibrary: await findLibrary("libGLX_nvidia.so.0"),
    driverCapabilities: _env("NVIDIA_DRIVER_CAPABILITIES"),
  };
}

/** Whether an adapter is driven by Mesa (llvmpipe/lavapipe, RADV, Intel's ANV, NVK, ...). */
export function isMesaAdapter(info: AdapterInfo): boolean {
  return info.vendor === "65541" || info.vendor === "32902" ||
    /llvmpipe|lavapipe|softpipe|RADV|Mesa|NVK|nouveau|zink|virgl|venus|turnip|panvk|v3dv/i
      .test(info.description);
}

const _MESA_RE = /^Mesa (\d{2,})\.(\d+)(?:\.(\d+))?((?:-[0-9A-Za-z.~+]+)?)/;

/**
 * Reads the Mesa version string a library carries (Mesa embeds "Mesa X.Y.Z" in its drivers).
 *
 * @param path a Mesa library (e.g. `libvulkan_lvp.so`)
 * @returns the version, or null when the file has none or cannot be read
 */
export async function mesaVersionOfLibrary(path: string): Promise<MesaVersion | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return null;
  }
  // "Mesa " followed by a digit: find it with the native indexOf, then parse the few bytes after.
  let m: RegExpExecArray | null = null;
  for (let i = bytes.indexOf(0x4d); i >= 0 && !m; i = bytes.indexOf(0x4d, i + 1)) {
    if (
      bytes[i + 1] === 0x65 && bytes[i + 2] === 0x73 && bytes[i + 3] === 0x61 &&
      bytes[i + 4] === 0x20 && bytes[i + 5] >= 0x30 && bytes[i + 5] <= 0x39
    ) {
      m = _MESA_RE.exec(new TextDecoder("latin1").decode(bytes.subarray(i, i + 64)));
    }
  }
  if (!m) return null;
  const version = `${m[1]}.${m[2]}${m[3] !== undefined ? "." + m[3] : ""}${m[4] ?? ""}`;
  return { version, major: Number(m[1]), source: path };
}

/** The library of an ICD manifest, resolved as the loader does (relative to the manifest). */
async function _icdLibrary(icd: IcdFile): Promise<string | null> {
  const lib = icd.libraryPath;
  if (!lib) return null;
  if (isAbsolute(lib)) return _isFile(lib) ? lib : null;
  if (lib.includes("/")) {
    const p = join(dirname(icd.path), lib);
    return _isFile(p) ? p : null;
  }
  return await findLibrary(lib);
}

/** Which Mesa Vulkan driver library serves an adapter, by its description. */
function _mesaDriverHint(info: AdapterInfo): RegExp {
  const d = info.description;
  if (/llvmpipe|lavapipe/i.test(d)) return /lvp/;
  if (/RADV/.test(d)) return /radeon/;
  if (/NVK|nouveau/i.test(d)) return /nouveau/;
  if (info.vendor === "32902") return /intel/;
  return /./;
}

/**
 * The version of the Mesa driver behind a Mesa adapter: read from the driver library itself
 * (the Vulkan ICD's library, or Mesa's GL/EGL libraries for the GL backend), else from dpkg.
 *
 * @param info the adapter
 * @param backend `vulkan`, `gl` or anything else (both are tried)
 * @returns the version, or null when the adapter is not Mesa's or no version was found
 */
export async function mesaVersion(
  info: AdapterInfo,
  backend: string,
): Promise<MesaVersion | null> {
  if (!isMesaAdapter(info)) return null;
  const tries: string[] = [];
  if (backend !== "gl") {
    const hint = _mesaDriverHint(info);
    const icds = vulkanIcds().files.filter((f) => hint.test(basename(f.libraryPath)));
    for (const icd of icds) {
      const lib = await _icdLibrary(icd);
      if (lib) tries.push(lib);
    }
  }
  if (backend !== "vulkan" || tries.length === 0) {
    for (const dir of LIB_DIRS) {
      tries.push(..._listDir(dir).filter((p) => /^libgallium-.*\.so$/.test(basename(p))));
    }
    for (const name of ["libEGL_mesa.so.0", "libGLX_mesa.so.0"]) {
      const lib = await findLibrary(name);
      if (lib) tries.push(lib);
    }
  }
  for (const lib of tries) {
    const v = await mesaVersionOfLibrary(lib);
    if (v) return v;
  }
  for (const pkg of ["mesa-vulkan-drivers", "libgl1-mesa-dri", "libegl-mesa0"]) {
    const out = await runQuiet("dpkg-query", ["-W", "-f=${Version}", pkg]);
    const m = out ? /^(?:\d+:)?(\d+)\.\d+/.exec(out.trim()) : null;
    if (m) return { version: out!.trim(), major: Number(m[1]), source: `dpkg: ${pkg}` };
  }
  return null;
}

/** The wgpu backend behind the adapter. */
export interface BackendReport {
  /** `vulkan`, `gl`, another `DENO_WEBGPU_BACKEND` value, or `unknown`. */
  name: string;
  /**
   * `DENO_WEBGPU_BACKEND` (set by the user), `detected` (a child process forced each backend and
   * found the same adapter) or `unknown`.
   */
  source: "DENO_WEBGPU_BACKEND" | "detected" | "unknown";
}

const _SIGNATURE_JS =
  `const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
console.log(JSON.stringify(a ? [a.info.description, a.info.vendor, a.info.device, a.info.subgroupMinSize,
  a.info.subgroupMaxSize, a.info.isFallbackAdapter, [...a.features].sort(), a.limits.maxStorageBuffersPerShaderStage,
  a.limits.maxComputeWorkgroupStorageSize, a.limits.maxStorageBufferBindingSize] : null));`;

/** What identifies an adapter across processes (info, features, a few limits), as JSON. */
export function adapterSignature(adapter: GPUAdapter): string {
  const i = adapter.info, l = adapter.limits;
  return JSON.stringify([
    i.description,
    i.vendor,
    i.device,
    i.subgroupMinSize,
    i.subgroupMaxSize,
    i.isFallbackAdapter,
    [...adapter.features].sort(),
    l.maxStorageBuffersPerShaderStage,
    l.maxComputeWorkgroupStorageSize,
    l.maxStorageBufferBindingSize,
  ]);
}

/**
 * Which backend gave `adapter`: `DENO_WEBGPU_BACKEND` when set; otherwise a child `deno eval`
 * per backend (Vulkan, then GL) asks for an adapter with that backend forced, and the first whose
 * adapter matches this one names it. Unknown when Deno is not the running executable (a compiled
 * binary) or no child matches.
 *
 * @param adapter the adapter this process got
 */
export async function webgpuBackend(adapter: GPUAdapter): Promise<BackendReport> {
  const set = _env("DENO_WEBGPU_BACKEND");
  if (set) return { name: set, source: "DENO_WEBGPU_BACKEND" };
  let exe = "";
  try {
    exe = Deno.execPath();
  } catch {
    return { name: "unknown", source: "unknown" };
  }
  if (!/^deno(\.exe)?$/.test(basename(exe))) return { name: "unknown", source: "unknown" };
  const mine = adapterSignature(adapter);
  for (const backend of ["vulkan", "gl"]) {
    try {
      const out = await new Deno.Command(exe, {
        args: ["eval", _SIGNATURE_JS],
        env: { DENO_WEBGPU_BACKEND: backend, XDG_RUNTIME_DIR: _env("XDG_RUNTIME_DIR") ?? "/tmp" },
        stdout: "piped",
        stderr: "null",
        stdin: "null",
        signal: AbortSignal.timeout(20000),
      }).output();
      if (out.success && new TextDecoder().decode(out.stdout).trim() === mine) {
        return { name: backend, source: "detected" };
      }
    } catch {
      // no permission to run, or it timed out: try the next
    }
  }
  return { name: "unknown", source: "unknown" };
}
