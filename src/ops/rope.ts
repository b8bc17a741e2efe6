/**
 * Rotary position embedding, exactly llama2.c model.py's `precompute_freqs_cis` and
 * `apply_rotary_emb`: pairs (2i, 2i+1) of each head at position t are rotated by the angle
 * `t * freq_i`, `freq_i = 1 / theta^(2i / HS)`. The backward rotates by the opposite angle.
 *
 * {@link ropeForward} rotates one tensor; {@link ropeQkvForward} reads the fused QKV matmul's
 * output (rows `[q | k | v]`), rotates q and k and copies v out in one dispatch, and
 * {@link ropeQkvBackward} writes that output's gradient from dq, dk and dv.
 *
 * @module
 */
import fwdCode from "../../kernels/rope_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/rope_backward.wgsl" with { type: "text" };
import qkvFwdCode from "../../kernels/rope_qkv_forward.wgsl" with { type: "text" };
import qkvBwdCode from "../../kernels/rope_qkv_backward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

const WG = 64;
/** The `rope_forward` kernel. */
export const ropeForwardKernel: Kernel = defineKernel("rope_forward", fwdCode);
/** The `rope_backward` kernel. */
export const ropeBackwardKernel: Kernel = defineKernel("rope_backward", bwdCode);
/** The `rope_qkv_forward` kernel. */
export const ropeQkvForwardKernel: Kernel = defineKernel("rope_qkv_forward", qkvFwdCode);
/** The `rope_qkv_backward` kernel. */
export const ropeQkvBackwardKernel: Kernel = defineKernel("rope_qkv_backward", qkvBwdCode);

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

/** Sizes of a {@link ropeQkvForward} call. */
export interface RopeQkvSizes {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Query heads. */
  NH: number;
  /** Key/value heads. */
  NKV: number;
  /** Head size (even). */
  HS: number;
}

function _check(op: string, p: RopeSizes | RopeQkvSizes): void {
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

/** Invocations of a rope_qkv kernel: one per pair of a [q | k | v] row. */
function _qkvGrid(p: RopeQkvSizes): [number, number, number] {
  return grid(Math.ceil((p.B * p.T * (p.NH + 2 * p.NKV) * p.HS) / 2 / WG));
}

/**
 * Records `q = rope(qkv[:, :C])`, `k = rope(qkv[:, C:C+KV])`, `v = qkv[:, C+KV:]` (all `=`): the
 * fused QKV matmul's output split into attention's inputs, q and k rotated as {@link ropeForward}.
 *
 * @param plan the plan to record into
 * @param b buffers: q [B,T,NH,HS], k and v [B,T,NKV,HS] (outputs), qkv [B*T, C+2KV] (C = NH*HS,
 *   KV = NKV*HS; rows `[q | k | v]`), freqs_cos and freqs_sin [T,HS/2] (at least T rows)
 * @param p sizes B, T, NH, NKV, HS
 * @throws {RangeError} when a size is not a positive integer or HS is odd
 * @example
 * ```ts
 * import { ropeQkvForward } from "./rope.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { q, k, v, qkv, freqs_cos, freqs_sin }: Record<string, BufferBinding>) {
 *   ropeQkvForward(plan, { q, k, v, qkv, freqs_cos, freqs_sin }, { B: 8, T: 256, NH: 6, NKV: 6, HS: 48 });
 * }
 * ```
 */
export function ropeQkvForward(
  plan: Plan,
  b: {
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
    qkv: BufferBinding;
    freqs_cos: BufferBinding;
    freqs_sin: BufferBinding;
  },
  p: RopeQkvSizes,
): void {
  _check("rope_qkv_forward", p);
  const params = { B: p.B, T: p.T, NH: p.NH, NKV: p.NKV, HS: p.HS };
  plan.dispatch(ropeQkvForwardKernel, b, params, _qkvGrid(p), { WG });
}

/**
 * Records the gradient of {@link ropeQkvForward}: `dqkv` (=) from dq and dk rotated back (as
 * {@link ropeBackward}) and dv copied, rows `[dq | dk | dv]`.
 *
 * @param plan the plan to record into
 * @param b buffers: dqkv [B*T, C+2KV] (output), dq [B,T,NH,HS], dk and dv [B,T,NKV,HS],
 *   freqs_cos and freqs_sin [T,HS/2]
 * @param p sizes B, T, NH, NKV, HS
 * @throws {RangeError} when a size is not a positive integer or HS is odd
 * @example
 * ```ts
 * import { ropeQkvBackward } from "./rope.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(
 *   plan: Plan,
 *   { dqkv, dq, dk, dv, freqs_cos, freqs_sin }: Record<string, BufferBinding>,
 * ) {
 *   const sizes = { B: 8, T: 256, NH: 6, NKV: 6, HS: 48 };
 *   ropeQkvBackward(plan, { dqkv, dq, dk, dv, freqs_cos, freqs_sin }, sizes);
 * }
 * ```
 */
export function ropeQkvBackward(
  plan: Plan,
  b: {
    dqkv: BufferBinding;
    dq: BufferBinding;
    dk: BufferBinding;
    dv: BufferBinding;
    freqs_cos: BufferBinding;
    freqs_sin: BufferBinding;
  },
  p: RopeQkvSizes,
): void {
  _check("rope_qkv_backward", p);
  const params = { B: p.B, T: p.T, NH: p.NH, NKV: p.NKV, HS: p.HS };
  plan.dispatch(ropeQkvBackwardKernel, b, params, _qkvGrid(p), { WG });
}
