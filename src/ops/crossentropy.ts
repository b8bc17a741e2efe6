/**
 * Softmax cross-entropy over rows of logits, its in-place backward, and the scaled loss sum.
 *
 * The classifier output is chunked over rows by the model (R rows at a time with
 * R·V·4 bytes ≤ 128 MiB), so each call sees one chunk; targets < 0 are ignored rows. Vocabularies
 * with V % 4 == 0 (32000, 512) use the `_vec4` kernels (one pass, online log-sum-exp), others
 * the scalar ones.
 *
 * Every kernel runs one workgroup per row. For V % 4 == 0 the workgroup size is a variant the
 * device's tuner picks per shape ({@link Tuner.pick}): `wg{N}` (N lanes, combined through
 * workgroup memory; `wg8` on CPU adapters, one 256-bit vector, and `wg256` on GPUs by default)
 * or, for the forward where the device has `subgroups`, `sg{N}` (lanes combined with subgroup
 * operations).
 *
 * @module
 */
import fwdCode from "../../kernels/crossentropy_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/crossentropy_backward.wgsl" with { type: "text" };
import meanCode from "../../kernels/loss_mean.wgsl" with { type: "text" };
import fwd4Code from "../../kernels/crossentropy_forward_vec4.wgsl" with { type: "text" };
import bwd4Code from "../../kernels/crossentropy_backward_vec4.wgsl" with { type: "text" };
import fwdSgCode from "../../kernels/crossentropy_forward_subgroup.wgsl" with { type: "text" };
import rowCode from "../../kernels/_crossentropy_row.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/device.ts";
import { hashText, type TuneFamily, tuneInput, tunerFor } from "../gpu/tune.ts";

/** Lanes per row of the scalar kernels (one 256-bit vector on a CPU adapter). */
const WG = 8;
/** Lanes of the single loss_mean workgroup. */
const MEAN_WG = 64;

/** The `crossentropy_forward` kernel. */
export const crossentropyForwardKernel: Kernel = defineKernel(
  "crossentropy_forward",
  fwdCode + rowCode,
);
/** The `crossentropy_backward` kernel. */
export const crossentropyBackwardKernel: Kernel = defineKernel("crossentropy_backward", bwdCode);
/** The `crossentropy_forward_vec4` kernel (V % 4 == 0). */
export const crossentropyForwardVec4Kernel: Kernel = defineKernel(
  "crossentropy_forward_vec4",
  fwd4Code + rowCode,
);
/** The `crossentropy_backward_vec4` kernel (V % 4 == 0). */
export const crossentropyBackwardVec4Kernel: Kernel = defineKernel(
  "crossentropy_backward_vec4",
  bwd4Code,
);
/** The `crossentropy_forward_subgroup` kernel (V % 4 == 0, device feature `subgroups`). */
export const crossentropyForwardSubgroupKernel: Kernel = defineKernel(
  "crossentropy_forward_subgroup",
  fwdSgCode + rowCode,
);
/** The `loss_mean` kernel. */
export const lossMeanKernel: Kernel = defineKernel("loss_mean", meanCode);

function _check(op: string, p: Record<string, number>): void {
  for (const [name, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot record ${op}: ${name} must be a positive integer, got ${v}`);
    }
  }
}

/**
 * Records `losses[r] = logsumexp(logits[r]) - logits[r, targets[r]]` (0 for targets < 0) and
 * saves `lse[r]` for the backward.
 *
 * @param plan the plan to record into
 * @param b buffers: losses [R] (=), lse [R] (=), logits [R,V], targets i32 [R]
 * @param p sizes R (rows), V (vocabulary)
 * @param variant `wg{N}` or `sg{N}` (default: the tuner's pick; V % 4 != 0 has one kernel)
 * @throws {RangeError} for a bad size, or a variant that is malformed or does not fit the device
 * @example
 * ```ts
 * import { crossentropyForward } from "./crossentropy.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { losses, lse, logits, targets }: Record<string, BufferBinding>) {
 *   crossentropyForward(plan, { losses, lse, logits, targets }, { R: 256, V: 32000 });
 * }
 * ```
 */
export function crossentropyForward(
  plan: Plan,
  b: {
    losses: BufferBinding;
    lse: BufferBinding;
    logits: BufferBinding;
    targets: BufferBinding;
  },
  p: { R: number; V: number },
  variant?: string,
): void {
  _check("crossentropy_forward", p);
  if (p.V % 4 !== 0) {
    plan.dispatch(crossentropyForwardKernel, b, { R: p.R, V: p.V }, grid(p.R), { WG });
    return;
  }
  const v = _resolve(plan, CROSSENTROPY_FORWARD, p, variant);
  const k = v.sg ? crossentropyForwardSubgroupKernel : crossentropyForwardVec4Kernel;
  plan.dispatch(k, b, { R: p.R, V: p.V }, grid(p.R), { WG: v.WG });
}

/**
 * Records the backward IN PLACE: `logits` becomes
 * `dlogits = (softmax(logits) - onehot(targets)) * dloss[0]`; ignored rows (targets < 0)
 * become 0.
 *
 * @param plan the plan to record into
 * @param b buffers: logits [R,V] (overwritten), lse [R] (from the forward), targets i32 [R],
 *   dloss f32 [1]
 * @param p sizes R, V
 * @param variant `wg{N}` (default: the tuner's pick; V % 4 != 0 has one kernel)
 * @throws {RangeError} for a bad size, or a variant that is malformed or does not fit the device
 * @example
 * ```ts
 * import { crossentropyBackward } from "./crossentropy.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { logits, lse, targets, dloss }: Record<string, BufferBinding>) {
 *   crossentropyBackward(plan, { logits, lse, targets, dloss }, { R: 256, V: 32000 });
 * }
 * ```
 */
export function crossentropyBackward(
  plan: Plan,
  b: {
    logits: BufferBinding;
    lse: BufferBinding;
    targets: BufferBinding;
    dloss: BufferBinding;
  },
  p: { R: number; V: number },
  variant?: string,
): void {
  _check("crossentropy_backward", p);
  if (p.V % 4 !== 0) {
    plan.dispatch(crossentropyBackwardKernel, b, { R: p.R, V: p.V }, grid(p.R), { WG });
    return;
  }
  const v = _resolve(plan, CROSSENTROPY_BACKWARD, p, variant);
  plan.dispatch(crossentropyBackwardVec4Kernel, b, { R: p.R, V: p.V }, grid(p.R), { WG: v.WG });
}

/**
 * Records `loss[0] = sum(losses[0..N]) * scale[0]` (one workgroup, deterministic).
 *
 * @param plan the plan to record into
 * @param b buffers: loss f32 [1] (=), losses [N], scale f32 [1]
 * @param p size N
 * @example
 * ```ts
 * import { lossMean } from "./crossentropy.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { loss, losses, scale }: Record<string, BufferBinding>) {
 *   lossMean(plan, { loss, losses, scale }, { N: 2048 });
 * }
 * ```
 */
export function lossMean(
  plan: Plan,
  b: { loss: BufferBinding; losses: BufferBinding; scale: BufferBinding },
  p: { N: number },
): void {
  _check("loss_mean", p);
  plan.dispatch(lossMeanKernel, b, { N: p.N }, [1, 1, 1], { WG: MEAN_WG });
}

/** A parsed cross-entropy variant: lanes per row, and whether subgroup operations combine them. */
interface _CeVariant {
  WG: number;
  sg: boolean;
}

/** Largest workgroup of the `wg{N}` kernels (their workgroup arrays hold 256 lanes). */
const MAX_CE_WG = 256;

function _parse(name: string): _CeVariant {
  const m = /^(wg|sg)(\d+)$/.exec(name);
  const WG = m ? Number(m[2]) : 0;
  if (!m || WG < 1 || WG > MAX_CE_WG || (WG & (WG - 1)) !== 0) {
    throw new RangeError(
      `Cannot use cross-entropy variant '${name}': not wg{N} or sg{N}, N a power of two <= ${MAX_CE_WG}`,
    );
  }
  return { WG, sg: m[1] === "sg" };
}

function _unfit(gpu: Gpu, v: _CeVariant, backward: boolean): string | null {
  if (
    v.WG > gpu.limits.maxComputeInvocationsPerWorkgroup ||
    v.WG > gpu.limits.maxComputeWorkgroupSizeX
  ) {
    return `${v.WG} invocations per workgroup exceed the device's limit`;
  }
  if (v.sg && backward) return "the backward has no subgroup variant";
  if (v.sg && !gpu.subgroups) {
    return "the device was not granted the feature subgroups";
  }
  return null;
}

function _resolve(
  plan: Plan,
  family: TuneFamily<{ R: number; V: number }>,
  p: { R: number; V: number },
  given: string | undefined,
): _CeVariant {
  const name = given ?? tunerFor(plan.gpu).pick(family, { R: p.R, V: p.V });
  const v = _parse(name);
  const why = _unfit(plan.gpu, v, family === CROSSENTROPY_BACKWARD);
  if (why) throw new RangeError(`Cannot record ${family.name}: variant ${name}: ${why}`);
  return v;
}

const CPU_CE = ["wg8", "wg16", "wg32", "wg64", "sg8", "sg32"];
const GPU_CE = ["wg256", "wg128", "wg64", "sg256", "sg128", "sg64", "wg8"];

function _ceFamily(
  name: string,
  backward: boolean,
  codes: string[],
): TuneFamily<{ R: number; V: number }> {
  const candidates = (gpu: Gpu, p: { R: number; V: number }) =>
    p.V % 4 !== 0
      ? []
      : (gpu.isCpu ? CPU_CE : GPU_CE).filter((n) => _unfit(gpu, _parse(n), backward) === null);
  return {
    name,
    sourceHash: hashText([...codes, CPU_CE, GPU_CE].join("\n")),
    shapeKey: (p) => `${p.R}x${p.V}`,
    candidates,
    fallback: (gpu, p) => {
      const c = candidates(gpu, p);
      const want = gpu.isCpu ? "wg8" : "wg256";
      return c.includes(want) ? want : c.includes("wg64") ? "wg64" : "wg8";
    },
    setup: (_gpu, p, pool) => {
      const { R, V } = p;
      const targets = pool.upload(
        "targets",
        Int32Array.from({ length: R }, (_, r) => (r * 7919) % V),
      );
      if (!backward) {
        const lse = pool.create("lse", R * 4);
        const logits = tuneInput(pool, "logits", R * V, 7, 4);
        const losses = pool.create("losses", R * 4);
        return {
          flop: 0,
          outputs: [{ buffer: lse, length: R }, { buffer: losses, length: R }],
          record: (plan, v) => crossentropyForward(plan, { losses, lse, logits, targets }, p, v),
        };
      }
      const pristine = tuneInput(pool, "logits0", R * V, 8, 4);
      const logits = pool.create("logits", R * V * 4);
      const lse = pool.upload("lse", new Float32Array(R).fill(Math.log(V) + 1));
      const dloss = pool.upload("dloss", new Float32Array([1 / R]));
      return {
        flop: 0,
        outputs: [{ buffer: logits, length: R * V }],
        reset: (plan) => plan.copy(pristine, 0, logits, 0, R * V * 4),
        record: (plan, v) => crossentropyBackward(plan, { logits, lse, targets, dloss }, p, v),
      };
    },
  };
}

/** The `crossentropy_forward` tuning family (shape key `RxV`). */
export const CROSSENTROPY_FORWARD: TuneFamily<{ R: number; V: number }> = _ceFamily(
  "crossentropy_forward",
  false,
  [crossentropyForwardVec4Kernel.code, crossentropyForwardSubgroupKernel.code],
);

/** The `crossentropy_backward` tuning family (shape key `RxV`). */
export const CROSSENTROPY_BACKWARD: TuneFamily<{ R: number; V: number }> = _ceFamily(
  "crossentropy_backward",
  true,
  [crossentropyBackwardVec4Kernel.code],
);

/**
 * Every cross-entropy variant name of the forward or backward (whether or not it fits a device):
 * for tests and benchmarks.
 */
export function allCrossentropyVariants(backward: boolean): string[] {
  return [...new Set([...CPU_CE, ...GPU_CE])].filter((n) => !(backward && n.startsWith("sg")));
}
