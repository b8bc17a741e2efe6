/**
 * `doctor`: the text report and its --json twin agree and carry every section; no adapter is one
 * line and exit 1 (with the JSON still written); --require-gpu (and BABYLLAMA_REQUIRE_GPU=1) on a
 * CPU adapter is one line and exit 1, for doctor, bench and train; the advice names the fixes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../helpers/cli.ts";
import { WANTED_FEATURES, WANTED_LIMITS } from "../../src/gpu/device.ts";
import { doctorAdvice, type DoctorReport, type TuningRow } from "../../src/cli/doctor.ts";
import {
  adapterKey,
  SHIPPED_TUNING,
  shippedAdapterKey,
  tuneAdapterInfo,
  type TuneCacheFile,
  tuneCachePath,
  type TuneEntry,
} from "../../src/gpu/tune.ts";
import { TUNE_FAMILY_HASHES } from "../../src/cli/tune.ts";
import { testGpu } from "../helpers/gpu.ts";

const REPORT_KEYS = [
  "ok",
  "error",
  "deno",
  "backend",
  "adapter",
  "features",
  "limits",
  "request_failures",
  "mesa",
  "system",
  "measurements",
  "tuning_cache",
  "advice",
];

async function cpuAdapter(): Promise<boolean> {
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  assert.ok(a, "no WebGPU adapter");
  return a.info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(a.info.description);
}

Deno.test("doctor prints the report and --json writes the same with every section", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "doctor.json");
  const r = await runMain(["doctor", "--json", file]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(await Deno.readTextFile(file)) as DoctorReport;
  assert.deepEqual(Object.keys(j), REPORT_KEYS);
  assert.equal(j.ok, true);
  assert.equal(j.deno.deno, Deno.version.deno);
  assert.ok(j.adapter && j.adapter.description.length > 0);
  assert.match(
    r.stdout,
    new RegExp(`^adapter +${j.adapter.description.replace(/[()]/g, "\\$&")}$`, "m"),
  );
  assert.match(r.stdout, new RegExp(`^backend +${j.backend!.name} `, "m"));
  assert.deepEqual(j.features.requested, [...WANTED_FEATURES]);
  for (const f of j.features.granted) {
    assert.ok((j.features.requested as string[]).includes(f));
    assert.match(r.stdout, new RegExp(`granted: .*${f}`));
  }
  assert.deepEqual(Object.keys(j.limits), [...WANTED_LIMITS]);
  for (const [name, l] of Object.entries(j.limits)) {
    assert.equal(l.requested, l.adapter, name);
    assert.ok(l.granted >= l.adapter, name);
    assert.match(r.stdout, new RegExp(`${name} +${l.adapter} +${l.requested} +${l.granted}`));
  }
  const m = j.measurements!;
  assert.ok(m, "measurements missing");
  assert.ok(m.submit_roundtrip_ms > 0 && m.dispatch_roundtrip_ms > 0 && m.dispatch_in_pass_us >= 0);
  assert.ok(m.matmul.gflops_wall > 0 && m.matmul.ms_wall > 0);
  assert.equal(m.matmul.gflops_gpu !== null, j.features.granted.includes("timestamp-query"));
  assert.match(r.stdout, new RegExp(`matmul ${m.matmul.N}x${m.matmul.C}x${m.matmul.OC} f32`));
  if (j.adapter.vendor_name === "Mesa") {
    assert.ok(j.mesa && j.mesa.major >= 10, "a Mesa adapter without a Mesa version");
    assert.match(r.stdout, new RegExp(`^mesa +${j.mesa.version.replace(/[.+~]/g, "\\$&")} `, "m"));
  }
  // The tuning section: runMain sets BABYLLAMA_TUNE=off; the cache where the tuner looks.
  const t = j.tuning_cache!;
  assert.ok(t, "tuning_cache missing");
  assert.equal(t.mode, "off");
  assert.equal(t.mode_source, "BABYLLAMA_TUNE");
  assert.deepEqual({ path: t.path, rule: t.rule, ignored: t.ignored }, tuneCachePath());
  assert.match(r.stdout, /^tuning +mode off \(\$BABYLLAMA_TUNE\)$/m);
  assert.ok(r.stdout.includes(`cache ${t.path} (`), r.stdout);
  assert.match(r.stdout, /^ +shipped table \(src\/gpu\/tune_shipped\.json, \d+ adapters?\): /m);
  assert.ok(Array.isArray(j.advice));
  await Deno.remove(dir, { recursive: true });
});

function cacheEntry(family: string, shape: string, variant: string, hash: string): TuneEntry {
  return {
    family,
    shape,
    hash,
    variant,
    fallback: "reg_wg8_16x12",
    timer: "cpu",
    gflop: 0,
    results: [],
    tunedAt: "2026-12-01T10:20:30.456Z",
  };
}

Deno.test("doctor --tune-cache: the cache's path and rule, this adapter's entries marked current, stale or unknown, the shipped table's entries", async () => {
  const gpu = await testGpu();
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "tune.json"), file = join(dir, "doctor.json");
    const mine = [
      cacheEntry("matmul_forward", "64x64x64", "reg_wg8_16x8", TUNE_FAMILY_HASHES.matmul_forward),
      cacheEntry("matmul_backward_dinp", "64x64x64", "reg_wg8_8x8", "00000000000000"),
      cacheEntry("gone_kernel", "1x1", "v1", "00000000000000"),
    ];
    const cache: TuneCacheFile = {
      version: 1,
      adapters: {
        [adapterKey(gpu)]: {
          info: tuneAdapterInfo(gpu),
          entries: Object.fromEntries(mine.map((e) => [`${e.family} ${e.shape}`, e])),
        },
        "another adapter": { info: {}, entries: { "x 1": cacheEntry("x", "1", "v", "h") } },
      },
    };
    await Deno.writeTextFile(path, JSON.stringify(cache));
    const r = await runMain(["doctor", "--no-measure", "--json", file, "--tune-cache", path]);
    assert.equal(r.code, 0, r.stderr);
    const t = (JSON.parse(await Deno.readTextFile(file)) as DoctorReport).tuning_cache!;
    assert.equal(t.path, path);
    assert.equal(t.rule, "--tune-cache");
    assert.equal(t.exists, true);
    assert.equal(t.error, null);
    assert.equal(t.adapters, 2);
    assert.equal(t.adapter_key, adapterKey(gpu));
    assert.deepEqual(
      t.entries.map((
        e: TuningRow,
      ) => [e.family, e.shape, e.variant, e.default, e.tuned_at, e.state]),
      [
        ["gone_kernel", "1x1", "v1", "reg_wg8_16x12", "2026-12-01T10:20:30.456Z", "unknown"],
        [
          "matmul_backward_dinp",
          "64x64x64",
          "reg_wg8_8x8",
          "reg_wg8_16x12",
          "2026-12-01T10:20:30.456Z",
          "stale",
        ],
        [
          "matmul_forward",
          "64x64x64",
          "reg_wg8_16x8",
          "reg_wg8_16x12",
          "2026-12-01T10:20:30.456Z",
          "current",
        ],
      ],
    );
    const sk = shippedAdapterKey(tuneAdapterInfo(gpu));
    assert.equal(t.shipped.adapter_key, sk);
    assert.equal(t.shipped.adapters, Object.keys(SHIPPED_TUNING.adapters).length);
    assert.equal(
      t.shipped.entries.length,
      Object.keys(SHIPPED_TUNING.adapters[sk]?.entries ?? {}).length,
    );

    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    assert.match(r.stdout, new RegExp(`^ +cache ${esc(path)} \\(--tune-cache\\): exists$`, "m"));
    assert.match(
      r.stdout,
      /^ +3 entries for this adapter \(1 current, 1 stale, 1 of unknown kernels\), 1 other adapter in the file$/m,
    );
    assert.match(
      r.stdout,
      /^ +matmul_forward +64x64x64 +reg_wg8_16x8 +default reg_wg8_16x12 +cpu +2026-12-01T10:20:30Z +current$/m,
    );
    assert.match(r.stdout, /^ +matmul_backward_dinp +64x64x64 +reg_wg8_8x8 .* stale$/m);
    if (t.shipped.entries.length === 0) {
      assert.match(r.stdout, new RegExp(`: no entries for this adapter \\(${esc(sk)}\\)$`, "m"));
    }
    assert.match(r.stdout, /- 2 of this adapter's tuning cache entries are stale/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor: an unreadable cache from $BABYLLAMA_TUNE_CACHE and an invalid $BABYLLAMA_TUNE are reported, with advice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "tune.json");
    await Deno.writeTextFile(path, "{not json");
    const r = await runMain(["doctor", "--no-measure", "--json", "-"], undefined, {
      BABYLLAMA_TUNE_CACHE: path,
      BABYLLAMA_TUNE: "fast",
    });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DoctorReport;
    const t = j.tuning_cache!;
    assert.equal(t.path, path);
    assert.equal(t.rule, "BABYLLAMA_TUNE_CACHE");
    assert.equal(t.exists, true);
    assert.match(t.error!, /^Cannot read tuning cache .*tune\.json: /);
    assert.deepEqual(t.entries, []);
    assert.equal(t.mode, null);
    assert.match(t.mode_source, /BABYLLAMA_TUNE must be one of full\|cached\|off, got 'fast'/);
    assert.ok(j.advice.some((x) => /^The tuning cache cannot be read \(Cannot read/.test(x)));
    assert.ok(j.advice.some((x) => /usage error until BABYLLAMA_TUNE is unset or one of/.test(x)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor --json - --no-measure prints only the JSON, without measurements", async () => {
  const r = await runMain(["doctor", "--json", "-", "--no-measure"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as DoctorReport;
  assert.deepEqual(Object.keys(j), REPORT_KEYS);
  assert.equal(j.measurements, null);
});

Deno.test("doctor without an adapter: one line, exit 1, and the JSON says why", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "doctor.json");
  const r = await runMain(["doctor", "--json", file], undefined, {
    VK_ICD_FILENAMES: "/nonexistent/icd.json",
    VK_DRIVER_FILES: "/nonexistent/icd.json",
    DENO_WEBGPU_BACKEND: "vulkan",
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^error: Cannot acquire a WebGPU adapter \(requestAdapter returned null\)/,
  );
  const j = JSON.parse(await Deno.readTextFile(file)) as DoctorReport;
  assert.equal(j.ok, false);
  assert.equal(j.adapter, null);
  assert.match(j.error!, /requestAdapter returned null/);
  assert.equal(j.system.vulkan_icds.source, "VK_DRIVER_FILES");
  assert.equal(j.system.env.DENO_WEBGPU_BACKEND, "vulkan");
  // The tuning cache file is still reported; no adapter, so no entries.
  assert.equal(j.tuning_cache!.path, tuneCachePath().path);
  assert.equal(j.tuning_cache!.adapter_key, null);
  assert.equal(j.tuning_cache!.shipped.adapter_key, null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--require-gpu or BABYLLAMA_REQUIRE_GPU=1 on a CPU adapter: one line and exit 1", async () => {
  if (!(await cpuAdapter())) {
    const r = await runMain(["doctor", "--require-gpu", "--no-measure"]);
    assert.equal(r.code, 0, r.stderr);
    return;
  }
  const one =
    /^error: Cannot use the adapter '.*': it is a CPU \(fallback\) adapter and a GPU is required/;
  const doctor = await runMain(["doctor", "--require-gpu", "--no-measure"]);
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout, /^adapter /m, "doctor still prints the report");
  assert.equal(doctor.stderr.trim().split("\n").length, 1, doctor.stderr);
  assert.match(doctor.stderr, one);
  for (
    const [args, env] of [
      [["bench", "--require-gpu"], {}],
      [["bench"], { BABYLLAMA_REQUIRE_GPU: "1" }],
      [["train", "--require-gpu", "--data-dir", "/nonexistent"], {}],
    ] as [string[], Record<string, string>][]
  ) {
    const r = await runMain(args, undefined, env);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, one);
  }
});

function fakeReport(over: Partial<DoctorReport>): DoctorReport {
  return {
    ok: true,
    error: null,
    deno: { deno: "2.9.6", v8: "", typescript: "", os: "linux", arch: "x86_64" },
    backend: { name: "vulkan", source: "DENO_WEBGPU_BACKEND" },
    adapter: {
      vendor: "65541",
      vendor_hex: "0x10005",
      vendor_name: "Mesa",
      architecture: "",
      device: "0",
      description: "llvmpipe (LLVM 15.0.6, 256 bits)",
      is_fallback_adapter: true,
      is_cpu: true,
      subgroup_min_size: 8,
      subgroup_max_size: 8,
    },
    features: {
      requested: [...WANTED_FEATURES],
      granted: [...WANTED_FEATURES],
      adapter_lists: [],
      device: [],
    },
    limits: {},
    request_failures: [],
    mesa: { version: "25.0.7", major: 25, source: "x" },
    system: {
      nvidia: {
        present: false,
        devices: [],
        smi: null,
        eglLibrary: null,
        glxLibrary: null,
        driverCapabilities: null,
      },
      vulkan_loader: "/lib/libvulkan.so.1",
      vulkan_icds: { source: "search", files: [], unsearched: [] },
      env: {},
    },
    measurements: null,
    tuning_cache: null,
    advice: [],
    ...over,
  };
}

Deno.test("doctorAdvice: old Mesa, a CPU adapter beside an NVIDIA GPU, no loader, no timestamps", () => {
  const fine = doctorAdvice(fakeReport({}));
  assert.equal(fine.length, 1);
  assert.match(fine[0], /is a CPU adapter/);

  const old = doctorAdvice(fakeReport({ mesa: { version: "22.3.6", major: 22, source: "x" } }));
  assert.ok(
    old.some((x) => /Mesa 22\.3\.6 is old .*bookworm-backports mesa-vulkan-drivers/.test(x)),
  );

  const base = fakeReport({});
  const nvidia = fakeReport({
    system: {
      ...base.system,
      nvidia: {
        present: true,
        devices: ["/dev/nvidia0"],
        smi: "GPU 0: NVIDIA H200 (UUID: GPU-x)",
        eglLibrary: "/usr/lib/x86_64-linux-gnu/libEGL_nvidia.so.0",
        glxLibrary: null,
        driverCapabilities: "compute,utility",
      },
      vulkan_icds: {
        source: "search",
        files: [],
        unsearched: ["/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json"],
      },
    },
  });
  const a = doctorAdvice(nvidia);
  const hint = a.find((x) => x.startsWith("An NVIDIA GPU is present (GPU 0: NVIDIA H200"));
  assert.ok(hint, a.join("\n"));
  assert.match(hint, /chose the CPU adapter 'llvmpipe/);
  assert.match(hint, /VK_DRIVER_FILES at an ICD json whose library_path is libEGL_nvidia\.so\.0/);
  assert.match(
    hint,
    /VK_DRIVER_FILES=\/usr\/local\/nvidia\/share\/vulkan\/icd\.d\/nvidia_icd\.json/,
  );
  assert.match(hint, /must include graphics \(now: compute,utility\)/);
  assert.ok(!a.some((x) => /is a CPU adapter: right for tests/.test(x)));

  const noAdapter = doctorAdvice({ ...nvidia, adapter: null, ok: false });
  assert.ok(noAdapter.some((x) => /^An NVIDIA GPU is present but WebGPU found no adapter/.test(x)));

  const bare = doctorAdvice(
    fakeReport({
      system: { ...base.system, vulkan_loader: null },
      features: { ...base.features, granted: ["shader-f16"] },
    }),
  );
  assert.ok(bare.some((x) => /^No Vulkan loader \(libvulkan\.so\.1\)/.test(x)));
  assert.ok(bare.some((x) => /^No timestamp-query/.test(x)));
});
