/**
 * SwiGLU gate of the feed-forward block: forward `out = silu(h1) * h3`, backward `dh1`, `dh3`
 * (both written with `=`).
 *
 * @module
 */
import fwdCode from "../../kernels/swiglu_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/swiglu_backward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `swiglu_forward` kernel. */
export const swigluForwardKernel: Kernel = defineKernel("swiglu_forward", fwdCode);
/** The `swiglu_backward` kernel. */
export const swigluBackwardKernel: Kernel = defineKernel("swiglu_backward", bwdCode);

const WG = 64;

function _check(name: string, N: number): void {
  if (!Number.isInteger(N) || N < 1) {
    throw new RangeError(`Cannot record ${name}: N=${N} is not a positive integer`);
  }
}

/**
 * Records `out = silu(h1) * h3` over `N` elements.
 *
 * @param plan the plan to record into
 * @param b buffers: out [N], h1 [N], h3 [N]
 * @param p size N (B*T*hidden_dim)
 */
export function swigluForward(
  plan: Plan,
  b: { out: BufferBinding; h1: BufferBinding; h3: BufferBinding },
  p: { N: number },
): void {
  _check("swiglu_forward", p.N);
  plan.dispatch(swigluForwardKernel, b, { N: p.N }, grid(Math.ceil(p.N / WG)), { WG });
}

/**
 * Records `dh1 = dout * h3 * silu'(h1)`, `dh3 = dout * silu(h1)` (both `=`).
 *
 * @param plan the plan to record into
 * @param b buffers: dh1 [N], dh3 [N], dout [N], h1 [N], h3 [N]
 * @param p size N
 */
export function swigluBackward(
  plan: Plan,
  b: {
    dh1: BufferBinding;
    dh3: BufferBinding;
    dout: BufferBinding;
    h1: BufferBinding;
    h3: BufferBinding;
  },
  p: { N: number },
): void {
  _check("swiglu_backward", p.N);
  plan.dispatch(swigluBackwardKernel, b, { N: p.N }, grid(Math.ceil(p.N / WG)), { WG });
}
