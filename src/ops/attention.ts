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
 * The vec4 kernels' shape is a variant the device's tuner picks per shape ({@link Tuner.pick}):
 * `wg{WG}_r{TM}`, WG invocations per workgroup each owning TM query rows (key rows for dkdv),
 * TM 1 to 4; `tex_wg{WG}_r{TM}` the same with the rows every lane of a workgroup shares (keys
 * and values for forward and dq, queries and dout for dkdv) copied into two scratch textures
 * (src/gpu/textures.ts) before the dispatch and fetched once per subgroup, then broadcast
 * (`_tex` kernels: llvmpipe fetches a texel for all lanes at once but loads a storage element
 * lane by lane; docs/attention-cpu.md). These need the device feature `subgroups` with subgroups
 * of 8 or more and WG a multiple of 8. CPU adapters default to `tex_wg8_r2` where it fits, else
 * `wg8_r2` (one 256-bit vector, two rows per load of a key); GPUs to `wg64_r1`.
 *
 * @module
 */
import fwdCode from "../../kernels/attention_forward.wgsl" with { type: "text" };
import dqCode from "../../kernels/attention_backward_dq.wgsl" with { type: "text" };
import dkdvCode from "../../kernels/attention_backward_dkdv.wgsl" with { type: "text" };
import fwd4Code from "../../kernels/attention_forward_vec4.wgsl" with { type: "text" };
import dq4Code from "../../kernels/attention_backward_dq_vec4.wgsl" with { type: "text" };
import dkdv4Code from "../../kernels/attention_backward_dkdv_vec4.wgsl" with { type: "text" };
import fwdTexCode from "../../kernels/attention_forward_tex.wgsl" with { type: "text" };
import dqTexCode from "../../kernels/attention_backward_dq_tex.wgsl" with { type: "text" };
import dkdvTexCode from "../../kernels/attention_backward_dkdv_tex.wgsl" with { type: "text" };
import rowsCode from "../../kernels/_attention_rows.wgsl" with { type: "text" };
import fetchCode from "../../kernels/_attention_fetch.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import { scratchTexture, scratchTextureCapacity } from "../gpu/textures.ts";
import type { BufferBinding, BufferPool } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/device.ts";
import { hashText, type TuneCase, type TuneFamily, tuneInput, tunerFor } from "../gpu/tune.ts";

/** Rows per workgroup of the scalar kernels (one 256-bit vector of f32 lanes on a CPU adapter). */
const WG = 8;
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

/** The `attention_forward_tex` kernel (k, v from textures; needs `subgroups`). */
export const attentionForwardTexKernel: Kernel = defineKernel(
  "attention_forward_tex",
  fwdTexCode + rowsCode + fetchCode,
);
/** The `attention_backward_dq_tex` kernel (k, v from textures; needs `subgroups`). */
export const attentionBackwardDqTexKernel: Kernel = defineKernel(
  "attention_backward_dq_tex",
  dqTexCode + rowsCode + fetchCode,
);
/** The `attention_backward_dkdv_tex` kernel (q, dout from textures; needs `subgroups`). */
export const attentionBackwardDkdvTexKernel: Kernel = defineKernel(
  "attention_backward_dkdv_tex",
  dkdvTexCode + rowsCode + fetchCode,
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
 * @param variant `wg{N}_r{R}` for the vec4 kernels (default: the tuner's pick)
 * @throws {RangeError} when NKV does not divide NH, HS > 128, or the variant is malformed or
 *   does not fit the device
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
  variant?: string,
): void {
  _check("attention_forward", p);
  if (_vec4(p.HS)) {
    const v = _resolve(plan, ATTENTION_FORWARD, p, variant);
    const n = p.B * p.NH * Math.ceil(p.T / (v.WG * v.TM));
    const consts = { WG: v.WG, HS: p.HS, TM: v.TM };
    if (v.tex) {
      const nk = p.B * p.T * p.NKV * p.HS;
      const kT = scratchTexture(plan, TEX_OWNER, 0, b.k, nk);
      const vT = scratchTexture(plan, TEX_OWNER, 1, b.v, nk);
      const bt = { out: b.out, lse: b.lse, q: b.q, kT, vT };
      plan.dispatch(attentionForwardTexKernel, bt, _params4(p), grid(n), consts);
    } else plan.dispatch(attentionForwardVec4Kernel, b, _params4(p), grid(n), consts);
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
 * @param variants `wg{N}_r{R}` of the dq and dkdv vec4 kernels (default: the tuner's picks)
 * @throws {RangeError} when NKV does not divide NH, HS > 128, or a variant is malformed or does
 *   not fit the device
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
  variants: { dq?: string; dkdv?: string } = {},
): void {
  _check("attention_backward", p);
  if (_vec4(p.HS)) {
    _dispatchDq(plan, b, p, _resolve(plan, ATTENTION_BACKWARD_DQ, p, variants.dq));
    _dispatchDkdv(plan, b, p, _resolve(plan, ATTENTION_BACKWARD_DKDV, p, variants.dkdv));
    return;
  }
  const params = _params(p);
  plan.dispatch(
    attentionBackwardDqKernel,
    { dq: b.dq, scratch: b.scratch, dout: b.dout, out: b.out, q: b.q, k: b.k, v: b.v, lse: b.lse },
    params,
    grid(p.B * p.NH * Math.ceil(p.T / WG)),
    { WG },
  );
  plan.dispatch(
    attentionBackwardDkdvKernel,
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
    grid(p.B * p.NKV * Math.ceil(p.T / WG)),
    { WG },
  );
}

/** Records the vec4 or tex dq kernel (dq and scratch written). */
function _dispatchDq(
  plan: Plan,
  b: {
    dq: BufferBinding;
    scratch: BufferBinding;
    dout: BufferBinding;
    out: BufferBinding;
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
    lse: BufferBinding;
  },
  p: AttentionSizes,
  v: _AttVariant,
): void {
  const wg = grid(p.B * p.NH * Math.ceil(p.T / (v.WG * v.TM)));
  const consts = { WG: v.WG, HS: p.HS, TM: v.TM };
  const rows = { dq: b.dq, scratch: b.scratch, dout: b.dout, out: b.out, q: b.q, lse: b.lse };
  if (v.tex) {
    const nk = p.B * p.T * p.NKV * p.HS;
    const kT = scratchTexture(plan, TEX_OWNER, 0, b.k, nk);
    const vT = scratchTexture(plan, TEX_OWNER, 1, b.v, nk);
    plan.dispatch(attentionBackwardDqTexKernel, { ...rows, kT, vT }, _params4(p), wg, consts);
  } else {
    plan.dispatch(
      attentionBackwardDqVec4Kernel,
      { ...rows, k: b.k, v: b.v },
      _params4(p),
      wg,
      consts,
    );
  }
}

/** Records the vec4 or tex dkdv kernel (dk and dv written). */
function _dispatchDkdv(
  plan: Plan,
  b: {
    dk: BufferBinding;
    dv: BufferBinding;
    dout: BufferBinding;
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
    lse: BufferBinding;
    scratch: BufferBinding;
  },
  p: AttentionSizes,
  v: _AttVariant,
): void {
  const wg = grid(p.B * p.NKV * Math.ceil(p.T / (v.WG * v.TM)));
  const consts = { WG: v.WG, HS: p.HS, TN: v.TM };
  const rows = { dk: b.dk, dv: b.dv, k: b.k, v: b.v, lse: b.lse, scratch: b.scratch };
  if (v.tex) {
    const nq = p.B * p.T * p.NH * p.HS;
    const qT = scratchTexture(plan, TEX_OWNER, 0, b.q, nq);
    const doutT = scratchTexture(plan, TEX_OWNER, 1, b.dout, nq);
    plan.dispatch(attentionBackwardDkdvTexKernel, { ...rows, qT, doutT }, _params4(p), wg, consts);
  } else {
    const bb = { ...rows, q: b.q, dout: b.dout };
    plan.dispatch(attentionBackwardDkdvVec4Kernel, bb, _params4(p), wg, consts);
  }
}

/** Owner of the attention kernels' two scratch textures (src/gpu/textures.ts). */
const TEX_OWNER = "attention";

/**
 * A parsed attention variant: invocations per workgroup, rows per invocation, whether the shared
 * rows come from textures (`tex_` prefix).
 */
interface _AttVariant {
  WG: number;
  TM: number;
  tex: boolean;
}

function _parse(name: string): _AttVariant {
  const m = /^(tex_)?wg(\d+)_r(\d)$/.exec(name);
  const v = { WG: Number(m?.[2]), TM: Number(m?.[3]), tex: m?.[1] !== undefined };
  if (
    !m || v.WG < 1 || v.WG > 1024 || v.TM < 1 || v.TM > 4 || (v.tex && v.WG % 8 !== 0)
  ) {
    throw new RangeError(
      `Cannot use attention variant '${name}': not [tex_]wg{N}_r{R} with N <= 1024 (a multiple of 8 for tex_), R in 1..4`,
    );
  }
  return v;
}

/** Why `v` cannot run at `p` on `gpu` (null when it can). */
function _unfit(gpu: Gpu, v: _AttVariant, p: AttentionSizes): string | null {
  if (
    v.WG > gpu.limits.maxComputeInvocationsPerWorkgroup ||
    v.WG > gpu.limits.maxComputeWorkgroupSizeX
  ) return `${v.WG} invocations per workgroup exceed the device's limit`;
  if (!v.tex) return null;
  if (!gpu.subgroups) return "the device has no subgroups";
  if (gpu.adapterInfo.subgroupMinSize < 8) {
    return `subgroups of ${gpu.adapterInfo.subgroupMinSize || "unknown"} invocations (need 8)`;
  }
  const floats = p.B * p.T * Math.max(p.NH, p.NKV) * p.HS;
  if (floats > scratchTextureCapacity(gpu.limits)) {
    return `an operand of ${floats} floats exceeds the device's largest texture`;
  }
  return null;
}

function _resolve(
  plan: Plan,
  family: TuneFamily<AttentionSizes>,
  p: AttentionSizes,
  given: string | undefined,
): _AttVariant {
  const name = given ?? tunerFor(plan.gpu).pick(family, p);
  const v = _parse(name);
  const why = _unfit(plan.gpu, v, p);
  if (why) throw new RangeError(`Cannot record ${family.name}: variant ${name}: ${why}`);
  return v;
}

/** CPU-shaped candidates of devices without usable subgroups (the first the default). */
const CPU_ATT = ["wg8_r2", "wg8_r1", "wg8_r4", "wg16_r2", "wg4_r4", "wg16_r1"];
/**
 * CPU-shaped candidates where the `tex_*` variants fit, the default first (docs/attention-cpu.md:
 * `tex_wg8_r4` runs the forward and dq 10-20% faster but compiles 3-4x longer; the tuner may pick
 * it), and as a safety net the storage-buffer default.
 */
const CPU_TEX_ATT = ["tex_wg8_r2", "tex_wg8_r4", "tex_wg8_r1", "tex_wg16_r2", "wg8_r2"];
/** GPU-shaped candidates (the first the default). */
const GPU_ATT = ["wg64_r1", "wg32_r1", "wg128_r1", "wg64_r2", "wg32_r2", "wg8_r2"];

/** The candidates of `gpu` at `p`, the default first. */
function _candidates(gpu: Gpu, p: AttentionSizes): string[] {
  if (!_vec4(p.HS)) return [];
  const fit = (list: string[]) => list.filter((n) => _unfit(gpu, _parse(n), p) === null);
  if (!gpu.isCpu) return fit(GPU_ATT);
  const tex = fit(CPU_TEX_ATT);
  return tex[0] === CPU_TEX_ATT[0] ? tex : fit(CPU_ATT);
}

function _attFamily(
  name: string,
  codes: string[],
  setup: (p: AttentionSizes, pool: BufferPool) => TuneCase,
): TuneFamily<AttentionSizes> {
  return {
    name,
    sourceHash: hashText(
      [...codes, rowsCode, fetchCode, CPU_ATT, CPU_TEX_ATT, GPU_ATT].join("\n"),
    ),
    shapeKey: (p) => `${p.B}x${p.T}x${p.NH}x${p.NKV}x${p.HS}`,
    candidates: _candidates,
    fallback: (gpu, p) => _candidates(gpu, p)[0] ?? "wg8_r2",
    setup: (_gpu, p, pool) => setup(p, pool),
  };
}

/** Inputs of an attention tuning run (q, k, v, dout, out, lse, D: random, deterministic). */
function _attInputs(p: AttentionSizes, pool: BufferPool) {
  const nq = p.B * p.T * p.NH * p.HS, nk = p.B * p.T * p.NKV * p.HS, nr = p.B * p.NH * p.T;
  return {
    nq,
    nk,
    nr,
    q: tuneInput(pool, "q", nq, 11, 1.5),
    k: tuneInput(pool, "k", nk, 12, 1.5),
    v: tuneInput(pool, "v", nk, 13),
    dout: tuneInput(pool, "dout", nq, 14),
    out: tuneInput(pool, "out", nq, 15),
    lse: tuneInput(pool, "lse", nr, 16),
    D: tuneInput(pool, "D", nr, 17),
  };
}

/** Causal attention flops (q·k and p·v over the lower triangle), for GFLOP/s. */
function _attFlop(p: AttentionSizes, passes: number): number {
  return passes * 2 * p.B * p.NH * p.HS * (p.T * (p.T + 1)) / 2;
}

/** The `attention_forward` tuning family (shape key `BxTxNHxNKVxHS`). */
export const ATTENTION_FORWARD: TuneFamily<AttentionSizes> = _attFamily(
  "attention_forward",
  [fwd4Code, fwdTexCode],
  (p, pool) => {
    const x = _attInputs(p, pool);
    const out = pool.create("out_t", x.nq * 4), lse = pool.create("lse_t", x.nr * 4);
    return {
      flop: _attFlop(p, 2),
      outputs: [{ buffer: out, length: x.nq }, { buffer: lse, length: x.nr }],
      record: (plan, v) => attentionForward(plan, { out, lse, q: x.q, k: x.k, v: x.v }, p, v),
    };
  },
);

/** The `attention_backward_dq` tuning family (shape key `BxTxNHxNKVxHS`). */
export const ATTENTION_BACKWARD_DQ: TuneFamily<AttentionSizes> = _attFamily(
  "attention_backward_dq",
  [dq4Code, dqTexCode],
  (p, pool) => {
    const x = _attInputs(p, pool);
    const dq = pool.create("dq", x.nq * 4), scratch = pool.create("scratch", x.nr * 4);
    return {
      flop: _attFlop(p, 3),
      outputs: [{ buffer: dq, length: x.nq }, { buffer: scratch, length: x.nr }],
      record: (plan, v) =>
        _dispatchDq(
          plan,
          { dq, scratch, dout: x.dout, out: x.out, q: x.q, k: x.k, v: x.v, lse: x.lse },
          p,
          _resolve(plan, ATTENTION_BACKWARD_DQ, p, v),
        ),
    };
  },
);

/** The `attention_backward_dkdv` tuning family (shape key `BxTxNHxNKVxHS`). */
export const ATTENTION_BACKWARD_DKDV: TuneFamily<AttentionSizes> = _attFamily(
  "attention_backward_dkdv",
  [dkdv4Code, dkdvTexCode],
  (p, pool) => {
    const x = _attInputs(p, pool);
    const dk = pool.create("dk", x.nk * 4), dv = pool.create("dv", x.nk * 4);
    return {
      flop: _attFlop(p, 4),
      outputs: [{ buffer: dk, length: x.nk }, { buffer: dv, length: x.nk }],
      record: (plan, v) =>
        _dispatchDkdv(
          plan,
          { dk, dv, dout: x.dout, q: x.q, k: x.k, v: x.v, lse: x.lse, scratch: x.D },
          p,
          _resolve(plan, ATTENTION_BACKWARD_DKDV, p, v),
        ),
    };
  },
);

/** Every attention variant name (whether or not it fits a device): for tests and benchmarks. */
export function allAttentionVariants(): string[] {
  return [...new Set([...CPU_ATT, ...CPU_TEX_ATT, ...GPU_ATT])];
}
