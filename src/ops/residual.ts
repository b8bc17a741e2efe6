/**
 * Residual add. Forward: `out = inp1 + inp2`. Backward: the identity (the model adds block
 * gradients into one residual-gradient buffer), so there is no backward kernel.
 *
 * @module
 */
import code from "../../kernels/residual_forward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

const WG = 64;
/** The `residual_forward` kernel. */
export const residualForwardKernel: Kernel = defineKernel("residual_forward", code);

/**
 * Records `out = inp1 + inp2` over `N` floats.
 *
 * @param plan the plan to record into
 * @param b buffers: out [N], inp1 [N], inp2 [N]
 * @param p sizes: N
 */
export function residualForward(
  plan: Plan,
  b: { out: BufferBinding; inp1: BufferBinding; inp2: BufferBinding },
  p: { N: number },
): void {
  plan.dispatch(residualForwardKernel, b, { N: p.N }, grid(Math.ceil(p.N / WG)), { WG });
}
