/**
 * Matrix multiply of a bias-free linear layer, forward and backward (llm.c's matmul):
 * `out[N,OC] = inp[N,C] · weight[OC,C]ᵀ`, `dinp = dout · weight`, `dweight += doutᵀ · inp`.
 * {@link matmulBackward} records both backward products of one layer, as a model graph uses them;
 * {@link matmulBackwardDinp} and {@link matmulBackwardDweight} record one each.
 *
 * Each kernel gives every invocation a register tile of `TM x TN` outputs and reads every operand
 * as vec4 when `C` and `OC` are multiples of 4 (any `N`); other shapes (a vocabulary of 67) take
 * simple scalar kernels, one output per invocation. The tile shapes are override
 * constants, chosen per adapter ({@link matmulTiles}) or passed explicitly (benchmarks).
 *
 * @module
 */
import fwdScalarCode from "../../kernels/matmul_forward_scalar.wgsl" with { type: "text" };
import dinpScalarCode from "../../kernels/matmul_backward_dinp_scalar.wgsl" with { type: "text" };
import dweightScalarCode from "../../kernels/matmul_backward_dweight_scalar.wgsl" with {
  type: "text",
};
import fwdCode from "../../kernels/matmul_forward.wgsl" with { type: "text" };
import dinpCode from "../../kernels/matmul_backward_dinp.wgsl" with { type: "text" };
import dweightCode from "../../kernels/matmul_backward_dweight.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/device.ts";

/** Scalar fallback of matmul_forward for C or OC not a multiple of 4 (one output each). */
export const matmulForwardScalarKernel: Kernel = defineKernel(
  "matmul_forward_scalar",
  fwdScalarCode,
);
/** Scalar fallback of matmul_backward_dinp. */
export const matmulBackwardDinpScalarKernel: Kernel = defineKernel(
  "matmul_backward_dinp_scalar",
  dinpScalarCode,
);
/** Scalar fallback of matmul_backward_dweight. */
export const matmulBackwardDweightScalarKernel: Kernel = defineKernel(
  "matmul_backward_dweight_scalar",
  dweightScalarCode,
);
/** The `matmul_forward` kernel. */
export const matmulForwardKernel: Kernel = defineKernel("matmul_forward", fwdCode);
/** The `matmul_backward_dinp` kernel. */
export const matmulBackwardDinpKernel: Kernel = defineKernel("matmul_backward_dinp", dinpCode);
/** The `matmul_backward_dweight` kernel. */
export const matmulBackwardDweightKernel: Kernel = defineKernel(
  "matmul_backward_dweight",
  dweightCode,
);

/** Tile shape of a matmul kernel: invocations per workgroup and outputs per invocation. */
export interface MatmulTiles {
  /** Invocations per workgroup. */
  WG: number;
  /** Output rows per invocation (4, 8, 12 or 16). */
  TM: number;
  /** Output columns per invocation (4, 8, 12 or 16). */
  TN: number;
}

/** Sizes of a matmul: N rows, C inputs, OC outputs. */
export interface MatmulSizes {
  /** Rows (B*T). */
  N: number;
  /** Input features. */
  C: number;
  /** Output features. */
  OC: number;
}

/** Which matmul kernel a tile shape is for. */
export type MatmulKind = "forward" | "dinp" | "dweight";

/** Tile shapes measured fastest on llvmpipe (tools/bench_matmul.ts). */
const CPU_TILES: Record<MatmulKind, MatmulTiles> = {
  forward: { WG: 8, TM: 16, TN: 12 },
  dinp: { WG: 8, TM: 16, TN: 12 },
  dweight: { WG: 8, TM: 16, TN: 12 },
};
/** Rows of weight summed per matmul_backward_dinp dispatch (tools/bench_matmul.ts). */
const DINP_CHUNK = 2048;

/** Tile shapes for a real GPU: more invocations per workgroup, smaller register tiles. */
const GPU_TILES: Record<MatmulKind, MatmulTiles> = {
  forward: { WG: 64, TM: 4, TN: 4 },
  dinp: { WG: 64, TM: 4, TN: 4 },
  dweight: { WG: 64, TM: 4, TN: 4 },
};

/**
 * The default tile shape of a matmul kernel on `gpu` (CPU adapters get large register tiles
 * and workgroups of 8).
 *
 * @param gpu the device owner
 * @param kind which kernel
 * @returns the tile shape
 */
export function matmulTiles(gpu: Gpu, kind: MatmulKind): MatmulTiles {
  return (gpu.isCpu ? CPU_TILES : GPU_TILES)[kind];
}

function _check(name: string, p: MatmulSizes, t: MatmulTiles): void {
  for (const k of ["N", "C", "OC"] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1 || p[k] >= 2 ** 32) {
      throw new RangeError(`Cannot record ${name}: ${k}=${p[k]} is not a positive u32`);
    }
  }
  const ok = (v: number) => v === 4 || v === 8 || v === 12 || v === 16;
  if (!(ok(t.TM) && ok(t.TN) && Number.isInteger(t.WG) && t.WG >= 1)) {
    throw new RangeError(
      `Cannot record ${name}: tile WG=${t.WG} TM=${t.TM} TN=${t.TN} is out of range`,
    );
  }
}

/** Whether the vec4 kernels can take this shape; otherwise the scalar fallbacks run. */
function _vec4(p: MatmulSizes): boolean {
  return p.C % 4 === 0 && p.OC % 4 === 0;
}

const SCALAR_WG = 64;

function _workgroups(rows: number, cols: number, t: MatmulTiles): [number, number, number] {
  return grid(Math.ceil(rows / t.TM) * Math.ceil(cols / (t.WG * t.TN)));
}

/**
 * Records `out[N,OC] = inp[N,C] · weight[OC,C]ᵀ` (`+=` when `accumulate`).
 *
 * @param plan the plan to record into
 * @param b buffers: out [N,OC], inp [N,C], weight [OC,C] (sub-ranges allowed)
 * @param p sizes N, C, OC (C and OC not multiples of 4 take slower scalar kernels); accumulate adds into out instead of overwriting it
 * @param tiles tile shape (default: {@link matmulTiles} for the plan's adapter)
 * @throws {RangeError} when a size is not a positive u32 or the
 *   tile shape is unsupported
 * @example
 * ```ts
 * import { matmulForward } from "./matmul.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { q, xb, wq }: Record<string, BufferBinding>) {
 *   const B = 8, T = 256, C = 288;
 *   matmulForward(plan, { out: q, inp: xb, weight: wq }, { N: B * T, C, OC: C });
 * }
 * ```
 */
export function matmulForward(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; weight: BufferBinding },
  p: MatmulSizes & { accumulate?: boolean },
  tiles: MatmulTiles = matmulTiles(plan.gpu, "forward"),
): void {
  _check("matmul_forward", p, tiles);
  const params = { N: p.N, C: p.C, OC: p.OC, accumulate: p.accumulate ? 1 : 0 };
  if (!_vec4(p)) {
    plan.dispatch(matmulForwardScalarKernel, b, params, grid(Math.ceil((p.N * p.OC) / SCALAR_WG)));
    return;
  }
  plan.dispatch(
    matmulForwardKernel,
    b,
    { N: p.N, C: p.C, OC: p.OC, accumulate: p.accumulate ? 1 : 0 },
    _workgroups(p.N, p.OC, tiles),
    { ...tiles },
  );
}

/**
 * Records `dinp[N,C] = dout[N,OC] · weight[OC,C]` (`+=` when `accumulate`). An OC above 2048 is
 * summed in chunks of 2048, one dispatch each, adding in order (deterministic).
 *
 * @param plan the plan to record into
 * @param b buffers: dinp [N,C], dout [N,OC], weight [OC,C]
 * @param p sizes N, C, OC (C and OC not multiples of 4 take slower scalar kernels); accumulate adds into dinp instead of overwriting it
 * @param tiles tile shape (default: {@link matmulTiles} for the plan's adapter)
 * @throws {RangeError} when a size is not a positive u32 or the
 *   tile shape is unsupported
 */
export function matmulBackwardDinp(
  plan: Plan,
  b: { dinp: BufferBinding; dout: BufferBinding; weight: BufferBinding },
  p: MatmulSizes & { accumulate?: boolean },
  tiles: MatmulTiles = matmulTiles(plan.gpu, "dinp"),
): void {
  _check("matmul_backward_dinp", p, tiles);
  if (!_vec4(p)) {
    const params = { N: p.N, C: p.C, OC: p.OC, accumulate: p.accumulate ? 1 : 0 };
    plan.dispatch(
      matmulBackwardDinpScalarKernel,
      b,
      params,
      grid(Math.ceil((p.N * p.C) / SCALAR_WG)),
    );
    return;
  }
  const wg = _workgroups(p.N, p.C, tiles);
  // Chunks of the OC sum, each one dispatch adding into dinp: a chunk of weight stays in cache
  // while every row tile reads it (for the 32000-wide classifier this is ~2x faster).
  for (let o0 = 0; o0 < p.OC; o0 += DINP_CHUNK) {
    const o1 = Math.min(p.OC, o0 + DINP_CHUNK);
    const accumulate = o0 > 0 || p.accumulate ? 1 : 0;
    plan.dispatch(
      matmulBackwardDinpKernel,
      b,
      { N: p.N, C: p.C, OC: p.OC, accumulate, o0, o1 },
      wg,
      { ...tiles },
    );
  }
}

/**
 * Records `dweight[OC,C] += dout[N,OC]ᵀ · inp[N,C]` (always `+=`: gradient accumulation).
 * Deterministic: each output is summed over n in order by one invocation.
 *
 * @param plan the plan to record into
 * @param b buffers: dweight [OC,C], dout [N,OC], inp [N,C]
 * @param p sizes N, C, OC (C and OC not multiples of 4 take slower scalar kernels)
 * @param tiles tile shape (default: {@link matmulTiles} for the plan's adapter)
 * @throws {RangeError} when a size is not a positive u32 or the
 *   tile shape is unsupported
 */
export function matmulBackwardDweight(
  plan: Plan,
  b: { dweight: BufferBinding; dout: BufferBinding; inp: BufferBinding },
  p: MatmulSizes,
  tiles: MatmulTiles = matmulTiles(plan.gpu, "dweight"),
): void {
  _check("matmul_backward_dweight", p, tiles);
  if (!_vec4(p)) {
    plan.dispatch(
      matmulBackwardDweightScalarKernel,
      b,
      { N: p.N, C: p.C, OC: p.OC },
      grid(Math.ceil((p.OC * p.C) / SCALAR_WG)),
    );
    return;
  }
  plan.dispatch(
    matmulBackwardDweightKernel,
    b,
    { N: p.N, C: p.C, OC: p.OC },
    _workgroups(p.OC, p.C, tiles),
    { ...tiles },
  );
}

/** Tile shapes of {@link matmulBackward}'s two kernels (each defaults to {@link matmulTiles}). */
export interface MatmulBackwardTiles {
  /** Tiles of matmul_backward_dinp. */
  dinp?: MatmulTiles;
  /** Tiles of matmul_backward_dweight. */
  dweight?: MatmulTiles;
}

/**
 * Records the backward pass of one linear layer `out = inp · weightᵀ`: first
 * `dinp[N,C] = dout[N,OC] · weight[OC,C]` (`+=` when `accumulate`, for an input that feeds
 * several layers), then `dweight[OC,C] += dout[N,OC]ᵀ · inp[N,C]` (always `+=`). The same
 * dispatches as {@link matmulBackwardDinp} followed by {@link matmulBackwardDweight}.
 *
 * @param plan the plan to record into
 * @param b buffers: dinp [N,C], dweight [OC,C], dout [N,OC], inp [N,C], weight [OC,C]
 * @param p sizes N, C, OC; accumulate adds into dinp instead of overwriting it
 * @param tiles tile shapes per kernel (default: {@link matmulTiles} for the plan's adapter)
 * @throws {RangeError} when a size is not a positive u32 or a tile shape is unsupported
 *   (checked for both kernels before either is recorded)
 * @example
 * ```ts
 * import { matmulBackward } from "./matmul.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { dxn, dwq, dq, xn, wq }: Record<string, BufferBinding>) {
 *   const N = 8 * 256, C = 288;
 *   matmulBackward(plan, { dinp: dxn, dweight: dwq, dout: dq, inp: xn, weight: wq }, { N, C, OC: C });
 * }
 * ```
 */
export function matmulBackward(
  plan: Plan,
  b: {
    dinp: BufferBinding;
    dweight: BufferBinding;
    dout: BufferBinding;
    inp: BufferBinding;
    weight: BufferBinding;
  },
  p: MatmulSizes & { accumulate?: boolean },
  tiles: MatmulBackwardTiles = {},
): void {
  const { dinp, dweight, dout, inp, weight } = b;
  const dinpTiles = tiles.dinp ?? matmulTiles(plan.gpu, "dinp");
  const dweightTiles = tiles.dweight ?? matmulTiles(plan.gpu, "dweight");
  _check("matmul_backward_dweight", p, dweightTiles); // dinp checks its own before recording
  matmulBackwardDinp(plan, { dinp, dout, weight }, p, dinpTiles);
  matmulBackwardDweight(plan, { dweight, dout, inp }, p, dweightTiles);
}
