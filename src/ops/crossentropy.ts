/**
 * Softmax cross-entropy over rows of logits, its in-place backward, and the scaled loss sum.
 *
 * The classifier output is chunked over rows by the model (R rows at a time with
 * R·V·4 bytes ≤ 128 MiB), so each call sees one chunk; targets < 0 are ignored rows. Vocabularies
 * with V % 4 == 0 (32000, 512) use the `_vec4` kernels (one pass, online log-sum-exp), others
 * the scalar ones.
 *
 * @module
 */
import fwdCode from "../../kernels/crossentropy_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/crossentropy_backward.wgsl" with { type: "text" };
import meanCode from "../../kernels/loss_mean.wgsl" with { type: "text" };
import fwd4Code from "../../kernels/crossentropy_forward_vec4.wgsl" with { type: "text" };
import bwd4Code from "../../kernels/crossentropy_backward_vec4.wgsl" with { type: "text" };
import rowCode from "../../kernels/_crossentropy_row.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** Lanes per row (one 256-bit vector on a CPU adapter). */
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
): void {
  _check("crossentropy_forward", p);
  const k = p.V % 4 === 0 ? crossentropyForwardVec4Kernel : crossentropyForwardKernel;
  plan.dispatch(k, b, { R: p.R, V: p.V }, grid(p.R), { WG });
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
): void {
  _check("crossentropy_backward", p);
  const k = p.V % 4 === 0 ? crossentropyBackwardVec4Kernel : crossentropyBackwardKernel;
  plan.dispatch(k, b, { R: p.R, V: p.V }, grid(p.R), { WG });
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
