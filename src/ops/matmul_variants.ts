/**
 * The matmul kernels' variants (see `matmul.ts`): their names, which fit a device and shape,
 * the tuner's candidates and each adapter class's default. `matmul.ts` re-exports the public
 * names.
 *
 * @module
 */
import { MAX_WORKGROUPS_PER_DIM } from "../gpu/plan.ts";
import { SCRATCH_TEXTURE_WIDTH } from "../gpu/textures.ts";
import type { Gpu } from "../gpu/device.ts";

/** Tile shape of a register-tiled (`reg_*`) matmul: invocations per workgroup and outputs per invocation. */
export interface MatmulTiles {
  /** Invocations per workgroup. */
  WG: number;
  /** Output rows per invocation (4, 8, 12 or 16). */
  TM: number;
  /** Output columns per invocation (4, 8, 12 or 16). */
  TN: number;
}

/** A parsed matmul variant name (see the module documentation). */
export type MatmulVariant =
  | { kind: "reg"; WG: number; TM: number; TN: number }
  | { kind: "tex"; WG: number; TM: number; TN: number }
  | { kind: "tile"; TX: number; TY: number; RM: number; RN: number; S: number };

/** Sizes of a matmul: N rows, C inputs, OC outputs. */
export interface MatmulSizes {
  /** Rows (B*T). */
  N: number;
  /** Input features. */
  C: number;
  /** Output features. */
  OC: number;
}

/** Which matmul kernel. */
export type MatmulKind = "forward" | "dinp" | "dweight";

/**
 * Parses a variant name (`reg_wg8_16x12`, `tex_wg8_32x8`, `tile_16x16_4x4`, `tile_16x16_4x4_k8`).
 *
 * @throws {RangeError} for a malformed name or out-of-range sizes
 * @example
 * ```ts
 * import { parseMatmulVariant } from "./matmul_variants.ts";
 *
 * const v = parseMatmulVariant("tile_16x16_4x4_k8");
 * console.log(v); // { kind: "tile", TX: 16, TY: 16, RM: 4, RN: 4, S: 8 }
 * ```
 */
export function parseMatmulVariant(name: string): MatmulVariant {
  let m = /^reg_wg(\d+)_(\d+)x(\d+)$/.exec(name);
  if (m) {
    const v = { kind: "reg" as const, WG: Number(m[1]), TM: Number(m[2]), TN: Number(m[3]) };
    const ok = (t: number) => t === 4 || t === 8 || t === 12 || t === 16;
    if (ok(v.TM) && ok(v.TN) && v.WG >= 1 && v.WG <= 1024) return v;
  }
  m = /^tex_wg(\d+)_(\d+)x(\d+)$/.exec(name);
  if (m) {
    const v = { kind: "tex" as const, WG: Number(m[1]), TM: Number(m[2]), TN: Number(m[3]) };
    const okM = v.TM === 8 || v.TM === 16 || v.TM === 24 || v.TM === 32;
    const okN = v.TN === 4 || v.TN === 8 || v.TN === 12 || v.TN === 16;
    if (okM && okN && v.WG >= 8 && v.WG <= 1024 && v.WG % 8 === 0) return v;
  }
  m = /^tile_(\d+)x(\d+)_(\d+)x(\d+)(?:_k(\d+))?$/.exec(name);
  if (m) {
    const [TX, TY, RM, RN] = [1, 2, 3, 4].map((i) => Number(m![i]));
    const S = m[5] === undefined ? 1 : Number(m[5]);
    const ok = (r: number) => r >= 1 && r <= 8;
    if (
      ok(RM) && ok(RN) && TX >= 1 && TY >= 1 && TX * TY <= 1024 && (TX * RN) % 4 === 0 &&
      (TY * RM) % 4 === 0 && S >= 1 && S <= 64 && !(m[5] !== undefined && S === 1)
    ) return { kind: "tile", TX, TY, RM, RN, S };
  }
  throw new RangeError(`Cannot use matmul variant '${name}': not a valid variant name`);
}

/**
 * Defaults of CPU adapters with `subgroups`, per kernel (tools/bench_matmul.ts; README,
 * "Measured"): the fastest on the 15M model's shapes or within noise of it, preferring tiles that
 * llvmpipe compiles in seconds (tex_wg8_32x4: ~3 s; tex_wg8_32x12: ~15 s, but clearly the best
 * dweight).
 */
export const CPU_TEX_DEFAULTS: Readonly<Record<MatmulKind, string>> = {
  forward: "tex_wg8_32x4",
  dinp: "tex_wg8_32x4",
  dweight: "tex_wg8_32x12",
};

/**
 * Multiply-adds (N·C·OC) below which the `tex_*` variants are neither candidates nor defaults
 * (they can still be asked for): at such sizes a CPU adapter's dispatch overhead hides their
 * gain (README, "Measured"), and llvmpipe compiles their large unrolled pipelines for seconds
 * where the `reg_*` ones take a tenth of one.
 */
export const TEX_MIN_MACS = 2 ** 22;

/**
 * CPU-shaped candidates: the register tiles (the first the default where no `tex_*` one fits),
 * then the texture-operand tiles; where those fit, the only register tile kept is the first
 * (3-5x slower there: timing the others would cost the tuner's budget for nothing).
 */
export const CPU_VARIANTS = [
  "reg_wg8_16x12",
  "reg_wg8_16x16",
  "reg_wg8_12x12",
  "reg_wg8_16x8",
  "reg_wg8_8x16",
  "reg_wg16_8x8",
  "tex_wg8_32x4",
  "tex_wg8_32x8",
  "tex_wg8_32x12",
  "tex_wg8_24x8",
];
/** GPU-shaped candidates of forward and dinp (the first the default), plus register tiles. */
export const GPU_VARIANTS = [
  "tile_16x16_4x4",
  "tile_16x16_8x8",
  "tile_8x8_8x8",
  "tile_16x8_8x8",
  "tile_8x8_4x4",
  "tile_32x8_4x4",
  "reg_wg64_4x4",
  "reg_wg8_16x12",
];
/** GPU-shaped candidates of dweight, with split-K. */
export const GPU_DWEIGHT_VARIANTS = [
  "tile_16x16_4x4",
  "tile_16x16_4x4_k4",
  "tile_16x16_4x4_k8",
  "tile_16x16_4x4_k16",
  "tile_16x16_8x8",
  "tile_8x8_8x8",
  "tile_8x8_8x8_k8",
  "tile_8x8_4x4_k8",
  "reg_wg8_16x12",
];
/** Largest split-K scratch buffer, bytes. */
export const MAX_SCRATCH = 256 * 2 ** 20;

/** Whether the vec4 kernels can take this shape; otherwise the scalar fallbacks run. */
export function matmulVec4Shape(p: MatmulSizes): boolean {
  return p.C % 4 === 0 && p.OC % 4 === 0;
}

/** Output rows and columns of a kind (dweight's output is [OC, C]). */
export function matmulOutShape(kind: MatmulKind, p: MatmulSizes): [number, number] {
  return kind === "forward" ? [p.N, p.OC] : kind === "dinp" ? [p.N, p.C] : [p.OC, p.C];
}

/** Slices of N a split-K dweight uses (the k chunk a multiple of 16). */
export function splitKSlices(N: number, S: number): { KC: number; S: number } {
  const KC = Math.ceil(Math.ceil(N / S) / 16) * 16;
  return { KC, S: Math.ceil(N / KC) };
}

/** Why `v` cannot run `kind` at `p` on `gpu` (null when it can). */
export function matmulUnfit(
  gpu: Gpu,
  kind: MatmulKind,
  p: MatmulSizes,
  v: MatmulVariant,
): string | null {
  const lim = gpu.limits;
  if (v.kind === "tex") {
    if (!gpu.subgroups) return "the device has no subgroups";
    if (gpu.adapterInfo.subgroupMinSize < 8) {
      return `subgroups of ${gpu.adapterInfo.subgroupMinSize || "unknown"} invocations (need 8)`;
    }
    if (v.WG > lim.maxComputeInvocationsPerWorkgroup || v.WG > lim.maxComputeWorkgroupSizeX) {
      return `${v.WG} invocations per workgroup exceed the device's limit`;
    }
    const texels = Math.max(p.N * p.C, p.N * p.OC, p.OC * p.C) / 4;
    if (texels > TEX_W * lim.maxTextureDimension2D) {
      return `an operand of ${texels} texels exceeds a ${TEX_W}x${lim.maxTextureDimension2D} texture`;
    }
    return null;
  }
  if (v.kind === "reg") {
    if (v.WG > lim.maxComputeInvocationsPerWorkgroup || v.WG > lim.maxComputeWorkgroupSizeX) {
      return `${v.WG} invocations per workgroup exceed the device's limit`;
    }
    return null;
  }
  const threads = v.TX * v.TY, BM = v.TY * v.RM, BN = v.TX * v.RN;
  if (threads > lim.maxComputeInvocationsPerWorkgroup || threads > lim.maxComputeWorkgroupSizeX) {
    return `${threads} invocations per workgroup exceed the device's limit`;
  }
  if ((BM + BN) * 5 * 16 > lim.maxComputeWorkgroupStorageSize) {
    return `${(BM + BN) * 80} bytes of workgroup memory exceed the device's limit`;
  }
  const [rows, cols] = matmulOutShape(kind, p);
  if (
    Math.ceil(rows / BM) > MAX_WORKGROUPS_PER_DIM || Math.ceil(cols / BN) > MAX_WORKGROUPS_PER_DIM
  ) {
    return `${rows}x${cols} needs more than ${MAX_WORKGROUPS_PER_DIM} blocks per dimension`;
  }
  if (v.S > 1) {
    if (kind !== "dweight") return "split-K is for dweight only";
    const { S } = splitKSlices(p.N, v.S);
    const bytes = S * p.OC * p.C * 4;
    if (S < 2 || bytes > Math.min(MAX_SCRATCH, lim.maxStorageBufferBindingSize)) {
      return `split-K ${v.S} does not fit N=${p.N} (scratch ${bytes} bytes)`;
    }
  }
  return null;
}

/** The canonical name of a parsed variant. */
export function matmulVariantName(v: MatmulVariant): string {
  return v.kind !== "tile"
    ? `${v.kind}_wg${v.WG}_${v.TM}x${v.TN}`
    : `tile_${v.TX}x${v.TY}_${v.RM}x${v.RN}${v.S > 1 ? `_k${v.S}` : ""}`;
}

/** Width in texels of the scratch textures of the `tex_*` variants (4 floats per texel). */
export const TEX_W = SCRATCH_TEXTURE_WIDTH;

/** The candidates of `kind` at `p` on `gpu`: the class's list, less what does not fit. */
export function matmulCandidates(gpu: Gpu, kind: MatmulKind, p: MatmulSizes): string[] {
  if (!matmulVec4Shape(p)) return [];
  const list = gpu.isCpu ? CPU_VARIANTS : kind === "dweight" ? GPU_DWEIGHT_VARIANTS : GPU_VARIANTS;
  const small = p.N * p.C * p.OC < TEX_MIN_MACS;
  const fits = list.filter((n) => {
    const v = parseMatmulVariant(n);
    return !(small && v.kind === "tex") && matmulUnfit(gpu, kind, p, v) === null;
  });
  if (!fits.some((n) => n.startsWith("tex_"))) return fits;
  return fits.filter((n) => n === CPU_VARIANTS[0] || !n.startsWith("reg_"));
}

/** The default of `kind` at `p` for `gpu`'s adapter class (mode `off`). */
export function matmulDefault(gpu: Gpu, kind: MatmulKind, p: MatmulSizes): string {
  if (gpu.isCpu) {
    const tex = CPU_TEX_DEFAULTS[kind];
    const fits = p.N * p.C * p.OC >= TEX_MIN_MACS &&
      matmulUnfit(gpu, kind, p, parseMatmulVariant(tex)) === null;
    return fits ? tex : CPU_VARIANTS[0];
  }
  const cands = matmulCandidates(gpu, kind, p);
  const pref: string[] = [];
  // A small weight has few 64x64 output blocks: split N so that the GPU has work for every unit.
  if (kind === "dweight" && Math.ceil(p.OC / 64) * Math.ceil(p.C / 64) < 128) {
    pref.push("tile_16x16_4x4_k8");
  }
  pref.push("tile_16x16_4x4", "tile_8x8_4x4", "reg_wg64_4x4", "reg_wg8_16x12");
  return pref.find((n) => cands.includes(n)) ?? "reg_wg8_16x12";
}

/**
 * The variants of a matmul kernel that can run `p` on `gpu` (the tuner's candidates; the
 * adapter class's default first).
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { matmulVariants } from "./matmul_variants.ts";
 *
 * using gpu = await acquireGpu();
 * console.log(matmulVariants(gpu, "forward", { N: 2048, C: 288, OC: 768 })); // ["reg_wg8_16x12", ...]
 * ```
 */
export function matmulVariants(gpu: Gpu, kind: MatmulKind, p: MatmulSizes): string[] {
  const cands = matmulCandidates(gpu, kind, p);
  const fb = matmulDefault(gpu, kind, p);
  return [fb, ...cands.filter((c) => c !== fb)];
}

/**
 * Every GPU-shaped and CPU-shaped variant name of a kernel (whether or not it fits a device):
 * for tests and benchmarks.
 */
export function allMatmulVariants(kind: MatmulKind): string[] {
  const gpu = kind === "dweight" ? GPU_DWEIGHT_VARIANTS : GPU_VARIANTS;
  return [...new Set([...CPU_VARIANTS, ...gpu])];
}
