/**
 * RMSNorm (llama2.c's model.py): forward `out = inp * rstd * weight` with
 * `rstd = 1/sqrt(mean(inp^2) + eps)` per row, and backward into the residual gradient (`+=`)
 * and the weight gradient (`+=`).
 *
 * @module
 */
import fwdCode from "../../kernels/rmsnorm_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/rmsnorm_backward.wgsl" with { type: "text" };
import dwCode from "../../kernels/rmsnorm_backward_dweight.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `rmsnorm_forward` kernel. */
export const rmsnormForwardKernel: Kernel = defineKernel("rmsnorm_forward", fwdCode);
/** The `rmsnorm_backward` kernel (input gradient). */
export const rmsnormBackwardKernel: Kernel = defineKernel("rmsnorm_backward", bwdCode);
/** The `rmsnorm_backward_dweight` kernel (weight gradient). */
export const rmsnormBackwardDweightKernel: Kernel = defineKernel(
  "rmsnorm_backward_dweight",
  dwCode,
);

const WG = 8;

function _check(name: string, N: number, C: number): void {
  if (!(Number.isInteger(N) && N >= 1 && Number.isInteger(C) && C >= 1)) {
    throw new RangeError(`Cannot record ${name}: N=${N} and C=${C} must be positive integers`);
  }
}

/**
 * Records `rstd[n] = 1/sqrt(mean(inp[n,:]^2) + eps)`, `out = inp * rstd * weight`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [N,C], rstd [N], inp [N,C], weight [C]
 * @param p sizes N, C and the epsilon (llama2.c: 1e-5)
 * @example
 * ```ts
 * import { rmsnormForward } from "./rmsnorm.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { xb, rstd, x, rmsAtt }: Record<string, BufferBinding>) {
 *   const B = 8, T = 256, C = 288;
 *   rmsnormForward(plan, { out: xb, rstd, inp: x, weight: rmsAtt }, { N: B * T, C, eps: 1e-5 });
 * }
 * ```
 */
export function rmsnormForward(
  plan: Plan,
  b: { out: BufferBinding; rstd: BufferBinding; inp: BufferBinding; weight: BufferBinding },
  p: { N: number; C: number; eps: number },
): void {
  _check("rmsnorm_forward", p.N, p.C);
  plan.dispatch(
    rmsnormForwardKernel,
    b,
    { N: p.N, C: p.C, eps: p.eps },
    grid(Math.ceil(p.N / WG)),
    { WG },
  );
}

/**
 * Records the RMSNorm backward: `dinp += d(out)/d(inp)ᵀ dout` (residual stream, `+=`) and
 * `dweight[c] += sum_n dout[n,c] * inp[n,c] * rstd[n]` (two dispatches).
 *
 * @param plan the plan to record into
 * @param b buffers: dinp [N,C], dweight [C], dout [N,C], inp [N,C], weight [C], rstd [N]
 * @param p sizes N, C
 */
export function rmsnormBackward(
  plan: Plan,
  b: {
    dinp: BufferBinding;
    dweight: BufferBinding;
    dout: BufferBinding;
    inp: BufferBinding;
    weight: BufferBinding;
    rstd: BufferBinding;
  },
  p: { N: number; C: number },
): void {
  _check("rmsnorm_backward", p.N, p.C);
  plan.dispatch(
    rmsnormBackwardKernel,
    { dinp: b.dinp, dout: b.dout, inp: b.inp, weight: b.weight, rstd: b.rstd },
    { N: p.N, C: p.C },
    grid(Math.ceil(p.N / WG)),
    { WG },
  );
  plan.dispatch(
    rmsnormBackwardDweightKernel,
    { dweight: b.dweight, dout: b.dout, inp: b.inp, rstd: b.rstd },
    { N: p.N, C: p.C },
    [Math.ceil(p.C / WG), 1, 1],
    { WG },
  );
}
