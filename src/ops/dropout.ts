/**
 * Inverted dropout with a counter-based mask: element `i` is kept iff
 * `hash32(hash32(seed[0] ^ salt) + i) >= floor(p * 2^32)` (lowbias32, as src/util/rng.ts) and
 * kept elements are scaled by `1/(1-p)`. The backward recomputes the mask, so nothing is stored;
 * `seed` is a one-word GPU buffer the trainer rewrites each step, `salt` tells the dropout sites
 * of one step apart.
 *
 * @module
 */
import fwdCode from "../../kernels/dropout_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/dropout_backward.wgsl" with { type: "text" };
import hashCode from "../../kernels/_hash.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `dropout_forward` kernel. */
export const dropoutForwardKernel: Kernel = defineKernel("dropout_forward", fwdCode + hashCode);
/** The `dropout_backward` kernel. */
export const dropoutBackwardKernel: Kernel = defineKernel("dropout_backward", bwdCode + hashCode);

const WG = 64;

/** Sizes and mask parameters of a dropout site. */
export interface DropoutParams {
  /** Number of elements. */
  N: number;
  /** Drop probability in [0, 1). */
  p: number;
  /** Per-site u32 salt, xored into the step's seed. */
  salt: number;
}

function _params(name: string, q: DropoutParams): Record<string, number> {
  if (!Number.isInteger(q.N) || q.N < 1 || q.N >= 2 ** 32) {
    throw new RangeError(`Cannot record ${name}: N=${q.N} is not a positive u32`);
  }
  if (!(q.p >= 0 && q.p < 1)) {
    throw new RangeError(`Cannot record ${name}: p=${q.p} is outside [0, 1)`);
  }
  if (!Number.isInteger(q.salt) || q.salt < 0 || q.salt >= 2 ** 32) {
    throw new RangeError(`Cannot record ${name}: salt=${q.salt} is not a u32`);
  }
  return {
    N: q.N,
    threshold: Math.min(Math.floor(q.p * 2 ** 32), 2 ** 32 - 1),
    scale: 1 / (1 - q.p),
    salt: q.salt,
  };
}

/**
 * Records `out = inp * keep * 1/(1-p)` (`=`).
 *
 * @param plan the plan to record into
 * @param b buffers: out [N], inp [N], seed u32 [1]
 * @param p size N, drop probability p, site salt
 * @example
 * ```ts
 * import { dropoutForward } from "./dropout.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { xd, x, seed }: Record<string, BufferBinding>) {
 *   const B = 8, T = 256, C = 288;
 *   dropoutForward(plan, { out: xd, inp: x, seed }, { N: B * T * C, p: 0.1, salt: 3 });
 * }
 * ```
 */
export function dropoutForward(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; seed: BufferBinding },
  p: DropoutParams,
): void {
  const params = _params("dropout_forward", p);
  plan.dispatch(dropoutForwardKernel, b, params, grid(Math.ceil(p.N / WG)), { WG });
}

/**
 * Records `dinp = dout * keep * 1/(1-p)` (`=`), with the mask of the matching forward (same
 * seed contents, p and salt).
 *
 * @param plan the plan to record into
 * @param b buffers: dinp [N], dout [N], seed u32 [1]
 * @param p size N, drop probability p, site salt
 */
export function dropoutBackward(
  plan: Plan,
  b: { dinp: BufferBinding; dout: BufferBinding; seed: BufferBinding },
  p: DropoutParams,
): void {
  const params = _params("dropout_backward", p);
  plan.dispatch(dropoutBackwardKernel, b, params, grid(Math.ceil(p.N / WG)), { WG });
}
