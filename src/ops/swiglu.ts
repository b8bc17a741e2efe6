/**
 * SwiGLU gate of the feed-forward block: forward `out = silu(h1) * h3`, backward `dh1`, `dh3`
 * (both written with `=`). {@link swigluForward} and {@link swigluBackward} take h1 and h3 as
 * two tensors; {@link swigluPackedForward} and {@link swigluPackedBackward} take them side by
 * side in each row of one `[N, 2H]` tensor, the fused W1|W3 matmul's output (and its gradient).
 *
 * @module
 */
import fwdCode from "../../kernels/swiglu_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/swiglu_backward.wgsl" with { type: "text" };
import packedFwdCode from "../../kernels/swiglu_packed_forward.wgsl" with { type: "text" };
import packedBwdCode from "../../kernels/swiglu_packed_backward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `swiglu_forward` kernel. */
export const swigluForwardKernel: Kernel = defineKernel("swiglu_forward", fwdCode);
/** The `swiglu_backward` kernel. */
export const swigluBackwardKernel: Kernel = defineKernel("swiglu_backward", bwdCode);
/** The `swiglu_packed_forward` kernel. */
export const swigluPackedForwardKernel: Kernel = defineKernel(
  "swiglu_packed_forward",
  packedFwdCode,
);
/** The `swiglu_packed_backward` kernel. */
export const swigluPackedBackwardKernel: Kernel = defineKernel(
  "swiglu_packed_backward",
  packedBwdCode,
);

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

function _checkRows(name: string, p: { N: number; H: number }): void {
  _check(name, p.N);
  if (!Number.isInteger(p.H) || p.H < 1) {
    throw new RangeError(`Cannot record ${name}: H=${p.H} is not a positive integer`);
  }
}

/**
 * Records `out[n, c] = silu(h13[n, c]) * h13[n, H + c]`: {@link swigluForward} with h1 and h3
 * side by side in each row.
 *
 * @param plan the plan to record into
 * @param b buffers: out [N, H] (=), h13 [N, 2H] (rows `[h1 | h3]`)
 * @param p sizes N (rows, B*T) and H (hidden_dim)
 * @throws {RangeError} when N or H is not a positive integer
 * @example
 * ```ts
 * import { swigluPackedForward } from "./swiglu.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { hg, h13 }: Record<string, BufferBinding>) {
 *   swigluPackedForward(plan, { out: hg, h13 }, { N: 8 * 256, H: 768 });
 * }
 * ```
 */
export function swigluPackedForward(
  plan: Plan,
  b: { out: BufferBinding; h13: BufferBinding },
  p: { N: number; H: number },
): void {
  _checkRows("swiglu_packed_forward", p);
  const n = p.N * p.H;
  plan.dispatch(swigluPackedForwardKernel, b, { N: p.N, H: p.H }, grid(Math.ceil(n / WG)), { WG });
}

/**
 * Records the gradient of {@link swigluPackedForward}: `dh13` (=) with rows `[dh1 | dh3]`, as
 * {@link swigluBackward}.
 *
 * @param plan the plan to record into
 * @param b buffers: dh13 [N, 2H] (output), dout [N, H], h13 [N, 2H]
 * @param p sizes N (rows) and H
 * @throws {RangeError} when N or H is not a positive integer
 * @example
 * ```ts
 * import { swigluPackedBackward } from "./swiglu.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { dh13, dhg, h13 }: Record<string, BufferBinding>) {
 *   swigluPackedBackward(plan, { dh13, dout: dhg, h13 }, { N: 8 * 256, H: 768 });
 * }
 * ```
 */
export function swigluPackedBackward(
  plan: Plan,
  b: { dh13: BufferBinding; dout: BufferBinding; h13: BufferBinding },
  p: { N: number; H: number },
): void {
  _checkRows("swiglu_packed_backward", p);
  const n = p.N * p.H;
  plan.dispatch(swigluPackedBackwardKernel, b, { N: p.N, H: p.H }, grid(Math.ceil(n / WG)), {
    WG,
  });
}
