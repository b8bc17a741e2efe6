/**
 * Global gradient norm with torch's `clip_grad_norm_` coefficient, the step guard (skips a step
 * whose loss or gradient norm is not finite), and the AdamW update.
 *
 * `globalNorm` runs two passes (partial sums of squares per workgroup, then one workgroup adds
 * them): no atomics, deterministic. `adamwUpdate` is one dispatch per tensor (bind that tensor's
 * sub-range of the params/grads/m/v buffers) so each tensor gets its own weight decay; it scales
 * the gradient by the clip coefficient instead of rewriting the gradients. Tensors with
 * N % 4 == 0 (all of llama2.c's) use the vec4 kernel, the rest the scalar one.
 *
 * @module
 */
import partialCode from "../../kernels/global_norm_partial.wgsl" with { type: "text" };
import finalCode from "../../kernels/global_norm_final.wgsl" with { type: "text" };
import adamwCode from "../../kernels/adamw_update.wgsl" with { type: "text" };
import adamw4Code from "../../kernels/adamw_update_vec4.wgsl" with { type: "text" };
import guardCode from "../../kernels/step_guard.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** Lanes per workgroup of global_norm_partial. */
const NORM_WG = 8;
/** Elements each lane of global_norm_partial sums. */
const NORM_PER = 512;
/** Elements per partial sum. */
const CHUNK = NORM_WG * NORM_PER;
/** Lanes of the single global_norm_final workgroup. */
const FINAL_WG = 64;
/** Lanes per workgroup of adamw_update. */
const ADAMW_WG = 64;
/** vec4s each invocation of adamw_update_vec4 updates. */
const ADAMW_PER = 4;

/** The `global_norm_partial` kernel. */
export const globalNormPartialKernel: Kernel = defineKernel("global_norm_partial", partialCode);
/** The `global_norm_final` kernel. */
export const globalNormFinalKernel: Kernel = defineKernel("global_norm_final", finalCode);
/** The `adamw_update` kernel. */
export const adamwUpdateKernel: Kernel = defineKernel("adamw_update", adamwCode);
/** The `adamw_update_vec4` kernel (tensors with N % 4 == 0). */
export const adamwUpdateVec4Kernel: Kernel = defineKernel("adamw_update_vec4", adamw4Code);
/** The `step_guard` kernel. */
export const stepGuardKernel: Kernel = defineKernel("step_guard", guardCode);

/** Bytes of the `status` buffer {@link stepGuard} updates (12 words). */
export const STEP_STATUS_BYTES = 48;

/** What {@link stepGuard} has counted since its status buffer was zeroed. */
export interface StepStatus {
  /** Steps guarded. */
  steps: number;
  /** Steps skipped because the loss or gradient norm was not finite. */
  bad: number;
  /** Skipped steps in a row, up to the last step (0 when the last step was applied). */
  run: number;
  /** Number (from 1) of the first skipped step, 0 if none. */
  first: number;
  /** Number (from 1) of the last skipped step, 0 if none. */
  last: number;
  /** Loss of the last step's last micro-batch. */
  loss: number;
  /** Global gradient norm of the last step. */
  norm: number;
  /** Loss at the first skipped step. */
  firstLoss: number;
  /** Gradient norm at the first skipped step. */
  firstNorm: number;
}

/**
 * Reads a {@link StepStatus} from the bytes of the status buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeStepStatus, STEP_STATUS_BYTES } from "./adamw.ts";
 *
 * const bytes = new ArrayBuffer(STEP_STATUS_BYTES); // as read back from the status buffer
 * new Uint32Array(bytes).set([7, 1, 0, 3, 3]); // 7 steps, step 3 skipped
 * new Float32Array(bytes).set([2.5, 0.8, NaN, NaN], 5);
 * const st = decodeStepStatus(bytes);
 * assert.equal(st.first, 3);
 * assert.ok(Number.isNaN(st.firstNorm));
 * ```
 */
export function decodeStepStatus(bytes: ArrayBuffer): StepStatus {
  const u = new Uint32Array(bytes, 0, 12), f = new Float32Array(bytes, 0, 12);
  return {
    steps: u[0],
    bad: u[1],
    run: u[2],
    first: u[3],
    last: u[4],
    loss: f[5],
    norm: f[6],
    firstLoss: f[7],
    firstNorm: f[8],
  };
}

/**
 * Records the step guard: when `gnorm[0]` or `loss[0]` is NaN or infinite, sets `gnorm[1] = -1`
 * so that {@link adamwUpdate} leaves params and moments unchanged, and counts the step in
 * `status` ({@link StepStatus}); record it between {@link globalNorm} and the updates.
 *
 * @param plan the plan to record into
 * @param b buffers: gnorm f32 [2] (from globalNorm, updated), loss f32 [1] (the step's last
 *   micro-batch loss), status [{@link STEP_STATUS_BYTES} bytes] (zero it once; updated)
 * @example
 * ```ts
 * import { stepGuard } from "./adamw.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the guard between globalNorm and the adamwUpdate calls.
 * function record(plan: Plan, { gnorm, loss, status }: Record<string, BufferBinding>) {
 *   stepGuard(plan, { gnorm, loss, status });
 * }
 * ```
 */
export function stepGuard(
  plan: Plan,
  b: { gnorm: BufferBinding; loss: BufferBinding; status: BufferBinding },
): void {
  plan.dispatch(stepGuardKernel, b, {}, [1, 1, 1]);
}

/**
 * Number of f32 partial sums {@link globalNorm} needs for `N` gradients (size `partials` with it).
 *
 * @param N number of gradient floats
 * @returns the partials length (at least 1)
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { BufferPool } from "../gpu/buffers.ts";
 * import { partialsLength } from "./adamw.ts";
 *
 * using gpu = await acquireGpu();
 * using pool = new BufferPool(gpu);
 * const numel = 15191712; // the gradients' floats
 * const partials = pool.create("norm_partials", 4 * partialsLength(numel));
 * ```
 */
export function partialsLength(N: number): number {
  return Math.max(1, Math.ceil(N / CHUNK));
}

/**
 * Records `out[0] = sqrt(sum grads²)` and `out[1] = clip > 0 ? min(1, clip / (out[0] + 1e-6)) : 1`
 * (torch's `clip_grad_norm_` coefficient).
 *
 * @param plan the plan to record into
 * @param b buffers: out f32 [2] (=), partials f32 [{@link partialsLength}(N)] (scratch), grads [N]
 * @param p N (gradient floats; padding between tensors must be zero), clip (max norm; 0 = no
 *   clipping)
 * @throws {RangeError} when N is not a positive integer or clip is negative
 * @example
 * ```ts
 * import { globalNorm } from "./adamw.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { gnorm, partials, grads }: Record<string, BufferBinding>) {
 *   globalNorm(plan, { out: gnorm, partials, grads }, { N: 15191712, clip: 1.0 });
 * }
 * ```
 */
export function globalNorm(
  plan: Plan,
  b: { out: BufferBinding; partials: BufferBinding; grads: BufferBinding },
  p: { N: number; clip: number },
): void {
  if (!Number.isInteger(p.N) || p.N < 1) {
    throw new RangeError(`Cannot record global_norm: N must be a positive integer, got ${p.N}`);
  }
  if (!(p.clip >= 0)) {
    throw new RangeError(`Cannot record global_norm: clip must be >= 0, got ${p.clip}`);
  }
  const M = partialsLength(p.N);
  plan.dispatch(
    globalNormPartialKernel,
    { partials: b.partials, grads: b.grads },
    { N: p.N },
    grid(M),
    { WG: NORM_WG, PER: NORM_PER },
  );
  plan.dispatch(
    globalNormFinalKernel,
    { out: b.out, partials: b.partials },
    { M, clip: p.clip },
    [1, 1, 1],
    { WG: FINAL_WG },
  );
}

/**
 * Records one AdamW step of one tensor (torch.optim.AdamW's math and order), with the gradient
 * scaled by `gnorm[1]`; a negative `gnorm[1]` ({@link stepGuard}'s mark) leaves the tensor and
 * its moments unchanged.
 *
 * @param plan the plan to record into
 * @param b buffers (each that tensor's sub-range): params, m, v [N] (updated), grads [N];
 *   hyper f32 [6] = lr, beta1, beta2, eps, 1 - beta1^step, 1 - beta2^step (written by the
 *   trainer each step); gnorm f32 [2] from {@link globalNorm}
 * @param p N (floats of the tensor), weight_decay (0 for tensors without decay)
 * @throws {RangeError} when N is not a positive integer or weight_decay is negative
 * @example
 * ```ts
 * import { adamwUpdate } from "./adamw.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(
 *   plan: Plan,
 *   { params, grads, m, v, hyper, gnorm }: Record<string, BufferBinding>,
 * ) {
 *   adamwUpdate(plan, { params, grads, m, v, hyper, gnorm }, { N: 288 * 288, weight_decay: 0.1 });
 * }
 * ```
 */
export function adamwUpdate(
  plan: Plan,
  b: {
    params: BufferBinding;
    grads: BufferBinding;
    m: BufferBinding;
    v: BufferBinding;
    hyper: BufferBinding;
    gnorm: BufferBinding;
  },
  p: { N: number; weight_decay: number },
): void {
  if (!Number.isInteger(p.N) || p.N < 1) {
    throw new RangeError(`Cannot record adamw_update: N must be a positive integer, got ${p.N}`);
  }
  if (!(p.weight_decay >= 0)) {
    throw new RangeError(
      `Cannot record adamw_update: weight_decay must be >= 0, got ${p.weight_decay}`,
    );
  }
  if (p.N % 4 === 0) {
    const n4 = p.N / 4;
    plan.dispatch(
      adamwUpdateVec4Kernel,
      b,
      { N4: n4, weight_decay: p.weight_decay },
      grid(Math.ceil(Math.ceil(n4 / ADAMW_PER) / ADAMW_WG)),
      { WG: ADAMW_WG, PER: ADAMW_PER },
    );
    return;
  }
  plan.dispatch(
    adamwUpdateKernel,
    b,
    { N: p.N, weight_decay: p.weight_decay },
    grid(Math.ceil(p.N / ADAMW_WG)),
    { WG: ADAMW_WG },
  );
}
