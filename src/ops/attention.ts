/**
 * Causal grouped-query attention, flash-style: the forward saves only the log-sum-exp of each
 * query row, never the T x T probabilities; the backward recomputes them. Query head `h` reads kv
 * head `h / (NH / NKV)` (llama2.c's `repeat_kv`). No attention dropout.
 *
 * Forward: `out = softmax(q kᵀ / sqrt(HS) + causal mask) v`, `lse` per row.
 * Backward: `attention_backward_dq` (writes dq and D = rowsum(dout * out) into `scratch`), then
 * `attention_backward_dkdv` (dk, dv per key row, looping over the group's heads and later
 * queries). Deterministic, no atomics; every gradient written with `=`.
 *
 * Head sizes that are multiples of 4 up to 64 (every llama2.c model: 8, 48, 64) use the `_vec4`
 * kernels, which read rows as vec4s into hand-unrolled registers (on llvmpipe a storage load
 * costs far more than an FMA, and dynamically indexed arrays are not kept in registers); other
 * head sizes (up to 128) use the scalar kernels.
 *
 * @module
 */
import fwdCode from "../../kernels/attention_forward.wgsl" with { type: "text" };
import dqCode from "../../kernels/attention_backward_dq.wgsl" with { type: "text" };
import dkdvCode from "../../kernels/attention_backward_dkdv.wgsl" with { type: "text" };
import fwd4Code from "../../kernels/attention_forward_vec4.wgsl" with { type: "text" };
import dq4Code from "../../kernels/attention_backward_dq_vec4.wgsl" with { type: "text" };
import dkdv4Code from "../../kernels/attention_backward_dkdv_vec4.wgsl" with { type: "text" };
import rowsCode from "../../kernels/_attention_rows.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** Rows per workgroup (one 256-bit vector of f32 lanes on a CPU adapter). */
const WG = 8;
/** Query rows (forward, dq) or key rows (dkdv) per invocation of the vec4 kernels. */
const TM = 2;
/** Largest head size of the vec4 kernels (HS % 4 == 0), which hold rows in registers. */
const VEC4_MAX_HS = 64;
/** Largest head size the kernels hold in registers. */
export const ATTENTION_MAX_HS = 128;

/** The `attention_forward` kernel. */
export const attentionForwardKernel: Kernel = defineKernel("attention_forward", fwdCode);
/** The `attention_backward_dq` kernel. */
export const attentionBackwardDqKernel: Kernel = defineKernel("attention_backward_dq", dqCode);
/** The `attention_backward_dkdv` kernel. */
export const attentionBackwardDkdvKernel: Kernel = defineKernel(
  "attention_backward_dkdv",
  dkdvCode,
);
/** The `attention_forward_vec4` kernel (HS % 4 == 0, HS <= 64). */
export const attentionForwardVec4Kernel: Kernel = defineKernel(
  "attention_forward_vec4",
  fwd4Code + rowsCode,
);
/** The `attention_backward_dq_vec4` kernel (HS % 4 == 0, HS <= 64). */
export const attentionBackwardDqVec4Kernel: Kernel = defineKernel(
  "attention_backward_dq_vec4",
  dq4Code + rowsCode,
);
/** The `attention_backward_dkdv_vec4` kernel (HS % 4 == 0, HS <= 64). */
export const attentionBackwardDkdvVec4Kernel: Kernel = defineKernel(
  "attention_backward_dkdv_vec4",
  dkdv4Code + rowsCode,
);

/** Whether the vec4 register kernels handle head size `HS`. */
function _vec4(HS: number): boolean {
  return HS % 4 === 0 && HS <= VEC4_MAX_HS;
}

/** Sizes of an attention call. */
export interface AttentionSizes {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Query heads. */
  NH: number;
  /** Key/value heads (divides NH). */
  NKV: number;
  /** Head size (at most {@link ATTENTION_MAX_HS}). */
  HS: number;
}

function _check(op: string, p: AttentionSizes): void {
  for (const [name, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot record ${op}: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (p.NH % p.NKV !== 0) {
    throw new RangeError(`Cannot record ${op}: NKV=${p.NKV} does not divide NH=${p.NH}`);
  }
  if (p.HS > ATTENTION_MAX_HS) {
    throw new RangeError(`Cannot record ${op}: HS=${p.HS} exceeds ${ATTENTION_MAX_HS}`);
  }
}

function _params(p: AttentionSizes): Record<string, number> {
  return { B: p.B, T: p.T, NH: p.NH, NKV: p.NKV, HS: p.HS };
}

function _params4(p: AttentionSizes): Record<string, number> {
  return { B: p.B, T: p.T, NH: p.NH, NKV: p.NKV };
}

/**
 * Records causal grouped-query attention.
 *
 * @param plan the plan to record into
 * @param b buffers: out [B,T,NH,HS] (=), lse [B,NH,T] (=), q [B,T,NH,HS], k and v [B,T,NKV,HS]
 * @param p sizes B, T, NH, NKV, HS
 * @throws {RangeError} when NKV does not divide NH or HS > 128
 * @example
 * ```ts
 * import { attentionForward } from "./attention.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(plan: Plan, { out, lse, q, k, v }: Record<string, BufferBinding>) {
 *   attentionForward(plan, { out, lse, q, k, v }, { B: 8, T: 256, NH: 6, NKV: 6, HS: 48 });
 * }
 * ```
 */
export function attentionForward(
  plan: Plan,
  b: {
    out: BufferBinding;
    lse: BufferBinding;
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
  },
  p: AttentionSizes,
): void {
  _check("attention_forward", p);
  if (_vec4(p.HS)) {
    const n = p.B * p.NH * Math.ceil(p.T / (WG * TM));
    plan.dispatch(attentionForwardVec4Kernel, b, _params4(p), grid(n), { WG, HS: p.HS, TM });
    return;
  }
  const n = p.B * p.NH * Math.ceil(p.T / WG);
  plan.dispatch(attentionForwardKernel, b, _params(p), grid(n), { WG });
}

/**
 * Records the attention backward: dq, then dk and dv (all written with `=`).
 *
 * @param plan the plan to record into
 * @param b buffers: dq [B,T,NH,HS], dk and dv [B,T,NKV,HS] (outputs); dout, q, out
 *   [B,T,NH,HS], k and v [B,T,NKV,HS], lse [B,NH,T] (from the forward); scratch [B,NH,T]
 *   (overwritten with D = rowsum(dout * out))
 * @param p sizes B, T, NH, NKV, HS
 * @throws {RangeError} when NKV does not divide NH or HS > 128
 * @example
 * ```ts
 * import { attentionBackward } from "./attention.ts";
 * import type { BufferBinding } from "../gpu/buffers.ts";
 * import type { Plan } from "../gpu/plan.ts";
 *
 * // Records the call into a plan (the buffers come from a BufferPool).
 * function record(
 *   plan: Plan,
 *   { dq, dk, dv, dout, q, k, v, out, lse, scratch }: Record<string, BufferBinding>,
 * ) {
 *   const sizes = { B: 8, T: 256, NH: 6, NKV: 6, HS: 48 };
 *   attentionBackward(plan, { dq, dk, dv, dout, q, k, v, out, lse, scratch }, sizes);
 * }
 * ```
 */
export function attentionBackward(
  plan: Plan,
  b: {
    dq: BufferBinding;
    dk: BufferBinding;
    dv: BufferBinding;
    dout: BufferBinding;
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
    out: BufferBinding;
    lse: BufferBinding;
    scratch: BufferBinding;
  },
  p: AttentionSizes,
): void {
  _check("attention_backward", p);
  const v4 = _vec4(p.HS);
  const params = v4 ? _params4(p) : _params(p);
  const rows = v4 ? WG * TM : WG;
  plan.dispatch(
    v4 ? attentionBackwardDqVec4Kernel : attentionBackwardDqKernel,
    { dq: b.dq, scratch: b.scratch, dout: b.dout, out: b.out, q: b.q, k: b.k, v: b.v, lse: b.lse },
    params,
    grid(p.B * p.NH * Math.ceil(p.T / rows)),
    v4 ? { WG, HS: p.HS, TM } : { WG },
  );
  plan.dispatch(
    v4 ? attentionBackwardDkdvVec4Kernel : attentionBackwardDkdvKernel,
    {
      dk: b.dk,
      dv: b.dv,
      dout: b.dout,
      q: b.q,
      k: b.k,
      v: b.v,
      lse: b.lse,
      scratch: b.scratch,
    },
    params,
    grid(p.B * p.NKV * Math.ceil(p.T / rows)),
    v4 ? { WG, HS: p.HS, TN: TM } : { WG },
  );
}
