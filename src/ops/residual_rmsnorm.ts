/**
 * A residual add folded into the RMSNorm that follows it: `res = inp1 + inp2`,
 * `out = rmsnorm(res, weight)` with `rstd` per row, in one dispatch instead of two (the same
 * bits as `residualForward` then `rmsnormForward`). The backward needs no kernel of its own:
 * `rmsnormBackward` (rmsnorm.ts) adds (`+=`) its input gradient into the residual-stream
 * gradient, which is also the gradient of both inputs of the add.
 *
 * @module
 */
import code from "../../kernels/residual_rmsnorm_forward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `residual_rmsnorm_forward` kernel. */
export const residualRmsnormForwardKernel: Kernel = defineKernel(
  "residual_rmsnorm_forward",
  code,
);

/** Rows per workgroup (one 256-bit vector of f32 lanes on a CPU adapter, as rmsnorm_forward). */
const WG = 8;

/**
 * Records `res = inp1 + inp2`, `rstd[n] = 1/sqrt(mean(res[n,:]^2) + eps)`,
 * `out = res * rstd * weight` (all three written with `=`).
 *
 * @param plan the plan to record into
 * @param b buffers: res [N,C], out [N,C], rstd [N] (outputs, none aliasing an input), inp1 [N,C],
 *   inp2 [N,C], weight [C]
 * @param p sizes N, C and the epsilon (llama2.c: 1e-5)
 * @throws {RangeError} when N or C is not a positive integer
 * @example
 * ```ts
 * import { residualRmsnormForward } from "./residual_rmsnorm.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { xm, xn2, rstd2, x, proj, rmsFfn }: Record<string, BufferBinding>) {
 *   const b = { res: xm, out: xn2, rstd: rstd2, inp1: x, inp2: proj, weight: rmsFfn };
 *   residualRmsnormForward(plan, b, { N: 8 * 256, C: 288, eps: 1e-5 });
 * }
 * ```
 */
export function residualRmsnormForward(
  plan: Plan,
  b: {
    res: BufferBinding;
    out: BufferBinding;
    rstd: BufferBinding;
    inp1: BufferBinding;
    inp2: BufferBinding;
    weight: BufferBinding;
  },
  p: { N: number; C: number; eps: number },
): void {
  if (!(Number.isInteger(p.N) && p.N >= 1 && Number.isInteger(p.C) && p.C >= 1)) {
    throw new RangeError(
      `Cannot record residual_rmsnorm_forward: N=${p.N} and C=${p.C} must be positive integers`,
    );
  }
  plan.dispatch(
    residualRmsnormForwardKernel,
    b,
    { N: p.N, C: p.C, eps: p.eps },
    grid(Math.ceil(p.N / WG)),
    { WG },
  );
}
