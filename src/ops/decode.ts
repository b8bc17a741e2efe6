/**
 * The decode-step ops of text generation (one token at a time with a KV cache): the token
 * embedding read from the GPU decode state, RMSNorm and the SwiGLU gate of one row, RoPE at the
 * current position with the KV cache write, attention over the cache, and the GPU sampler that
 * picks the next token and advances the state. Each is a thin launcher of its kernel.
 *
 * The decode state is a u32 [4] storage buffer `(pos, token, done, unused)` that the kernels
 * read and `sample` writes, so one recorded step serves every position (see
 * src/model/generate.ts).
 *
 * @module
 */
import embeddingCode from "../../kernels/embedding_decode.wgsl" with { type: "text" };
import matvecCode from "../../kernels/matvec_decode.wgsl" with { type: "text" };
import rmsnormCode from "../../kernels/rmsnorm_decode.wgsl" with { type: "text" };
import ropeCode from "../../kernels/rope_decode.wgsl" with { type: "text" };
import attentionCode from "../../kernels/attention_decode.wgsl" with { type: "text" };
import sampleCode from "../../kernels/sample.wgsl" with { type: "text" };
import hashCode from "../../kernels/_hash.wgsl" with { type: "text" };
import samplerCode from "../../kernels/_sample.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { type DispatchHandle, grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";
import type { Gpu } from "../gpu/device.ts";

const WG = 64;
/** Words in the decode state buffer: (pos, token, done, unused). */
export const DECODE_STATE_WORDS = 4;

/** The `embedding_decode` kernel. */
export const embeddingDecodeKernel: Kernel = defineKernel("embedding_decode", embeddingCode);
/** The `matvec_decode` kernel. */
export const matvecDecodeKernel: Kernel = defineKernel("matvec_decode", matvecCode);
/** The `rmsnorm_decode` kernel. */
export const rmsnormDecodeKernel: Kernel = defineKernel("rmsnorm_decode", rmsnormCode);
/** The `rope_decode` kernel. */
export const ropeDecodeKernel: Kernel = defineKernel("rope_decode", ropeCode);
/** The `attention_decode` kernel. */
export const attentionDecodeKernel: Kernel = defineKernel("attention_decode", attentionCode);
/** The `sample` kernel. */
export const sampleKernel: Kernel = defineKernel("sample", sampleCode + hashCode + samplerCode);

function _positive(name: string, p: Record<string, number>): void {
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 1 || v >= 2 ** 32) {
      throw new RangeError(`Cannot record ${name}: ${k}=${v} is not a positive u32`);
    }
  }
}

/** Workgroup shape of `matvec_decode`: invocations, and invocations sharing 4 rows. */
export interface MatvecShape {
  /** Invocations per workgroup (<= 256). */
  WG: number;
  /** Invocations per 4 output rows (a power of two dividing WG). */
  SPLIT: number;
}

/**
 * The default `matvec_decode` shape on `gpu`: CPU adapters one invocation per 4 rows in
 * workgroups of 8 (no barriers), real GPUs 16 invocations per 4 rows in workgroups of 64.
 */
export function matvecShape(gpu: Gpu): MatvecShape {
  return gpu.isCpu ? { WG: 8, SPLIT: 1 } : { WG: 64, SPLIT: 16 };
}

/**
 * Records `out[OC] = weight[OC, C] · inp[C]` (`+=` when `accumulate`: the residual add).
 *
 * @param plan the plan to record into
 * @param b buffers: out [OC], inp [C], weight [OC, C]
 * @param p sizes C (a multiple of 4) and OC; accumulate adds into out
 * @param shape workgroup shape (default {@link matvecShape})
 * @throws {RangeError} for C not a multiple of 4 or a bad shape
 */
export function matvecDecode(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; weight: BufferBinding },
  p: { C: number; OC: number; accumulate?: boolean },
  shape: MatvecShape = matvecShape(plan.gpu),
): void {
  _positive("matvec_decode", { C: p.C, OC: p.OC });
  if (p.C % 4 !== 0) {
    throw new RangeError(`Cannot record matvec_decode: C=${p.C} is not a multiple of 4`);
  }
  const { WG, SPLIT } = shape;
  if (!(WG >= 1 && WG <= 256 && SPLIT >= 1 && (SPLIT & (SPLIT - 1)) === 0 && WG % SPLIT === 0)) {
    throw new RangeError(`Cannot record matvec_decode: shape WG=${WG} SPLIT=${SPLIT} is invalid`);
  }
  const groups = Math.ceil(p.OC / 4);
  plan.dispatch(
    matvecDecodeKernel,
    b,
    { C: p.C, OC: p.OC, accumulate: p.accumulate ? 1 : 0 },
    grid(Math.ceil(groups / (WG / SPLIT))),
    { WG, SPLIT },
  );
}

/**
 * Records `out[C] = weight[state.token, :]`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [C], state [4] u32, weight [V, C] (tok_embeddings)
 * @param p sizes: C
 */
export function embeddingDecode(
  plan: Plan,
  b: { out: BufferBinding; state: BufferBinding; weight: BufferBinding },
  p: { C: number },
): void {
  _positive("embedding_decode", p);
  plan.dispatch(embeddingDecodeKernel, b, { C: p.C }, grid(Math.ceil(p.C / WG)), { WG });
}

/**
 * Records `out = inp * rsqrt(mean(inp²) + eps) * weight` for one row.
 *
 * @param plan the plan to record into
 * @param b buffers: out [C], inp [C], weight [C]
 * @param p sizes: C; eps
 */
export function rmsnormDecode(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; weight: BufferBinding },
  p: { C: number; eps: number },
): void {
  _positive("rmsnorm_decode", { C: p.C });
  plan.dispatch(rmsnormDecodeKernel, b, { C: p.C, eps: p.eps }, [1, 1, 1]);
}

/** Sizes of the decode attention ops. */
export interface DecodeSizes {
  /** Query heads. */
  NH: number;
  /** Key/value heads (NH is a multiple of it). */
  NKV: number;
  /** Head size (even). */
  HS: number;
  /** Cache length (max_seq_len). */
  S: number;
  /** Layer index into the cache. */
  layer: number;
}

function _checkSizes(name: string, p: DecodeSizes): void {
  _positive(name, { NH: p.NH, NKV: p.NKV, HS: p.HS, S: p.S });
  if (p.NH % p.NKV !== 0 || p.HS % 2 !== 0) {
    throw new RangeError(
      `Cannot record ${name}: NH=${p.NH} must be a multiple of NKV=${p.NKV} and HS=${p.HS} even`,
    );
  }
  if (!Number.isInteger(p.layer) || p.layer < 0) {
    throw new RangeError(`Cannot record ${name}: layer ${p.layer} is not a non-negative integer`);
  }
}

/**
 * Records RoPE at `state.pos`: rotates `q` in place and writes the rotated `k` and `v` into row
 * (layer, pos) of the caches. Writes nothing once `state.done` is set.
 *
 * @param plan the plan to record into
 * @param b buffers: q [NH*HS], k [NKV*HS], v [NKV*HS], key_cache and value_cache
 *   [L, S, NKV*HS], state [4] u32, freqs_cos and freqs_sin [S, HS/2]
 * @param p sizes
 */
export function ropeDecode(
  plan: Plan,
  b: {
    q: BufferBinding;
    k: BufferBinding;
    v: BufferBinding;
    key_cache: BufferBinding;
    value_cache: BufferBinding;
    state: BufferBinding;
    freqs_cos: BufferBinding;
    freqs_sin: BufferBinding;
  },
  p: DecodeSizes,
): void {
  _checkSizes("rope_decode", p);
  const pairs = ((p.NH + p.NKV) * p.HS) / 2;
  plan.dispatch(ropeDecodeKernel, b, { ...p }, grid(Math.ceil(pairs / WG)), { WG });
}

/**
 * Records attention of the query at `state.pos` over cache rows 0..pos of `layer`, one
 * workgroup per query head, grouped KV heads.
 *
 * @param plan the plan to record into
 * @param b buffers: out [NH*HS], q [NH*HS], key_cache and value_cache [L, S, NKV*HS],
 *   att [NH, S] scratch, state [4] u32
 * @param p sizes
 */
export function attentionDecode(
  plan: Plan,
  b: {
    out: BufferBinding;
    q: BufferBinding;
    key_cache: BufferBinding;
    value_cache: BufferBinding;
    att: BufferBinding;
    state: BufferBinding;
  },
  p: DecodeSizes,
): void {
  _checkSizes("attention_decode", p);
  plan.dispatch(attentionDecodeKernel, b, { ...p }, [p.NH, 1, 1]);
}

/** Settings of the `sample` kernel. */
export interface SampleParams {
  /** Vocabulary size. */
  V: number;
  /** 0: argmax; otherwise softmax(logits / temperature). */
  temperature: number;
  /** Nucleus mass in (0, 1); <= 0 or >= 1 means plain multinomial. */
  top_p: number;
  /** u32 seed of the coins (coin of position pos: bitsAt(seed, pos)). */
  seed: number;
  /** Tokens of the prompt (forced while pos + 1 < prompt_len). */
  prompt_len: number;
  /** Stop once pos + 1 reaches it (done = 1). */
  steps: number;
  /** 1: stop when BOS (id 1) is produced. */
  stop_at_bos: number;
}

/** Checks sampler settings; throws a RangeError naming the first bad one. */
export function checkSampleParams(p: SampleParams): void {
  if (!(Number.isFinite(p.temperature) && p.temperature >= 0)) {
    throw new RangeError(`Cannot sample: temperature must be >= 0, got ${p.temperature}`);
  }
  if (!Number.isFinite(p.top_p)) {
    throw new RangeError(`Cannot sample: top_p must be a number, got ${p.top_p}`);
  }
  if (!(Number.isInteger(p.seed) && p.seed >= 0 && p.seed < 2 ** 32)) {
    throw new RangeError(`Cannot sample: seed must be a u32, got ${p.seed}`);
  }
  _positive("sample", { V: p.V, steps: p.steps });
  if (!(Number.isInteger(p.prompt_len) && p.prompt_len >= 0)) {
    throw new RangeError(`Cannot sample: prompt_len ${p.prompt_len} is not a u32`);
  }
}

/**
 * Records the sampler: picks the next token from `logits`, writes it to `tokens[pos + 1]` and
 * advances `state` (see kernels/sample.wgsl).
 *
 * @param plan the plan to record into
 * @param b buffers: state [4] u32, tokens [>= steps + 1] u32, logits [V], prompt [prompt_len]
 *   u32 (at least 1 element), probs [V] scratch
 * @param p settings
 * @returns a handle to change the settings with `plan.setParams`
 */
export function sample(
  plan: Plan,
  b: {
    state: BufferBinding;
    tokens: BufferBinding;
    logits: BufferBinding;
    prompt: BufferBinding;
    probs: BufferBinding;
  },
  p: SampleParams,
): DispatchHandle {
  checkSampleParams(p);
  return plan.dispatch(sampleKernel, b, { ...p }, [1, 1, 1]);
}
