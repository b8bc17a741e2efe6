/**
 * Rotary position embedding, exactly llama2.c model.py's `precompute_freqs_cis` and
 * `apply_rotary_emb`: pairs (2i, 2i+1) of each head at position t are rotated by the angle
 * `t * freq_i`, `freq_i = 1 / theta^(2i / HS)`. The backward rotates by the opposite angle.
 *
 * @module
 */
import fwdCode from "../../kernels/rope_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/rope_backward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

const WG = 64;
/** The `rope_forward` kernel. */
export const ropeForwardKernel: Kernel = defineKernel("rope_forward", fwdCode);
/** The `rope_backward` kernel. */
export const ropeBackwardKernel: Kernel = defineKernel("rope_backward", bwdCode);

/** Sizes of a RoPE call. */
export interface RopeSizes {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Heads. */
  NH: number;
  /** Head size (even). */
  HS: number;
}

function _check(op: string, p: RopeSizes): void {
  for (const [name, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot record ${op}: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (p.HS % 2 !== 0) throw new RangeError(`Cannot record ${op}: HS=${p.HS} is odd`);
}

/**
 * Records `out = rope(inp)`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [B,T,NH,HS] (=, not aliasing inp), inp [B,T,NH,HS], freqs_cos and
 *   freqs_sin [T,HS/2] (from `ropeFreqs`, src/model/rope_freqs.ts; at least T
 *   rows)
 * @param p sizes B, T, NH, HS
 * @throws {RangeError} when HS is odd
 * @example
 * ```ts
 * import { ropeForward } from "./rope.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { out, inp, freqs_cos, freqs_sin }: Record<string, BufferBinding>) {
 *   ropeForward(plan, { out, inp, freqs_cos, freqs_sin }, { B: 8, T: 256, NH: 6, HS: 48 });
 * }
 * ```
 */
export function ropeForward(
  plan: Plan,
  b: {
    out: BufferBinding;
    inp: BufferBinding;
    freqs_cos: BufferBinding;
    freqs_sin: BufferBinding;
  },
  p: RopeSizes,
): void {
  _check("rope_forward", p);
  const n = (p.B * p.T * p.NH * p.HS) / 2;
  plan.dispatch(
    ropeForwardKernel,
    b,
    { B: p.B, T: p.T, NH: p.NH, HS: p.HS },
    grid(Math.ceil(n / WG)),
    { WG },
  );
}

/**
 * Records `dinp = rope_backward(dout)` (rotation by the opposite angle, written with `=`).
 *
 * @param plan the plan to record into
 * @param b buffers: dinp [B,T,NH,HS] (=, not aliasing dout), dout [B,T,NH,HS], freqs_cos and
 *   freqs_sin [T,HS/2]
 * @param p sizes B, T, NH, HS
 * @throws {RangeError} when HS is odd
 * @example
 * ```ts
 * import { ropeBackward } from "./rope.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(
 *   plan: Plan,
 *   { dinp, dout, freqs_cos, freqs_sin }: Record<string, BufferBinding>,
 * ) {
 *   ropeBackward(plan, { dinp, dout, freqs_cos, freqs_sin }, { B: 8, T: 256, NH: 6, HS: 48 });
 * }
 * ```
 */
export function ropeBackward(
  plan: Plan,
  b: {
    dinp: BufferBinding;
    dout: BufferBinding;
    freqs_cos: BufferBinding;
    freqs_sin: BufferBinding;
  },
  p: RopeSizes,
): void {
  _check("rope_backward", p);
  const n = (p.B * p.T * p.NH * p.HS) / 2;
  plan.dispatch(
    ropeBackwardKernel,
    b,
    { B: p.B, T: p.T, NH: p.NH, HS: p.HS },
    grid(Math.ceil(n / WG)),
    { WG },
  );
}
