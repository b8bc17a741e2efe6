/**
 * The decode-step ops of text generation (one token at a time with a KV cache): the token
 * embedding read from the GPU decode state, RMSNorm and the SwiGLU gate of one row, RoPE at the
 * current position with the KV cache write, attention over the cache, and the GPU sampler that
 * picks the next token and advances the state; the fused matvecs (q/k/v with RoPE and the cache
 * write, w1/w3 with SwiGLU, any matvec with the RMSNorm before it and the residual after it);
 * and token_decode, whole decode steps in one workgroup (on llvmpipe without barriers, with the
 * weights in a buffer or in a read-only storage texture). Each is a thin launcher of its kernel.
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
import qkvCode from "../../kernels/qkv_decode.wgsl" with { type: "text" };
import ffnCode from "../../kernels/ffn_decode.wgsl" with { type: "text" };
import matvec4Code from "../../kernels/_matvec4.wgsl" with { type: "text" };
import matvec4SplitCode from "../../kernels/_matvec4_split.wgsl" with { type: "text" };
import matvec4SubgroupCode from "../../kernels/_matvec4_subgroup.wgsl" with { type: "text" };
import tokenCode from "../../kernels/token_decode.wgsl" with { type: "text" };
import tokenLockstepCode from "../../kernels/token_decode_lockstep.wgsl" with { type: "text" };
import tokenLockstepTexCode from "../../kernels/token_decode_lockstep_tex.wgsl" with {
  type: "text",
};
import tokenStepCode from "../../kernels/_token_step.wgsl" with { type: "text" };
import tokenMatvecCode from "../../kernels/_token_matvec.wgsl" with { type: "text" };
import tokenMatvecTexCode from "../../kernels/_token_matvec_tex.wgsl" with { type: "text" };
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
export const matvecDecodeKernel: Kernel = defineKernel(
  "matvec_decode",
  matvecCode + matvec4Code + matvec4SplitCode,
);
/** The `qkv_decode` kernel (RMSNorm + q/k/v + RoPE + cache write). */
export const qkvDecodeKernel: Kernel = defineKernel(
  "qkv_decode",
  qkvCode + matvec4Code + matvec4SplitCode,
);
/** The `ffn_decode` kernel (RMSNorm + w1/w3 + SwiGLU). */
export const ffnDecodeKernel: Kernel = defineKernel(
  "ffn_decode",
  ffnCode + matvec4Code + matvec4SplitCode,
);
/**
 * `matvec_decode`, `qkv_decode` and `ffn_decode` with the workgroup's partial sums added by
 * subgroup operations (kernels/_matvec4_subgroup.wgsl; device feature `subgroups`, SPLIT = WG).
 */
export const decodeSubgroupKernels: { matvec: Kernel; qkv: Kernel; ffn: Kernel } = {
  matvec: defineKernel("matvec_decode:subgroup", matvecCode + matvec4Code + matvec4SubgroupCode),
  qkv: defineKernel("qkv_decode:subgroup", qkvCode + matvec4Code + matvec4SubgroupCode),
  ffn: defineKernel("ffn_decode:subgroup", ffnCode + matvec4Code + matvec4SubgroupCode),
};
/** The `rmsnorm_decode` kernel. */
export const rmsnormDecodeKernel: Kernel = defineKernel("rmsnorm_decode", rmsnormCode);
/** The `rope_decode` kernel. */
export const ropeDecodeKernel: Kernel = defineKernel("rope_decode", ropeCode);
/** The `attention_decode` kernel. */
export const attentionDecodeKernel: Kernel = defineKernel("attention_decode", attentionCode);
/** The `token_decode` kernel (whole decode steps in one workgroup). */
export const tokenDecodeKernel: Kernel = defineKernel(
  "token_decode",
  tokenCode + tokenStepCode + tokenMatvecCode + hashCode + samplerCode,
);
/** The `token_decode_lockstep` kernel (token_decode without barriers, for llvmpipe). */
export const tokenDecodeLockstepKernel: Kernel = defineKernel(
  "token_decode_lockstep",
  tokenLockstepCode + tokenStepCode + tokenMatvecCode + hashCode + samplerCode,
);
/**
 * The `token_decode_lockstep_tex` kernel (token_decode_lockstep with the weights in a read-only
 * storage texture, for llvmpipe).
 */
export const tokenDecodeLockstepTexKernel: Kernel = defineKernel(
  "token_decode_lockstep_tex",
  tokenLockstepTexCode + tokenStepCode + tokenMatvecTexCode + hashCode + samplerCode,
);

/**
 * Invocations that `gpu` runs as one SIMD vector in lockstep, 0 when unknown: llvmpipe (and
 * lavapipe) name their vector width, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`: 8 f32 lanes.
 */
export function lockstepWidth(gpu: Gpu): number {
  const m = /llvmpipe \(LLVM [^,)]*, (\d+) bits\)/.exec(gpu.description);
  return m ? Number(m[1]) / 32 : 0;
}

/** Width in texels of the weight texture of `token_decode_lockstep_tex` (4 floats a texel). */
export const DECODE_TEXTURE_WIDTH = 4096;

/**
 * Why `gpu` cannot run `token_decode_lockstep_tex` with `floats` floats of decode-layout weights
 * in a workgroup of WG, or null when it can: it needs the device feature `subgroups` with
 * subgroups of at least 8, WG a multiple of 8 and the weights in one texture
 * {@link DECODE_TEXTURE_WIDTH} texels wide (rows up to `maxTextureDimension2D`).
 */
export function decodeTextureUnfit(gpu: Gpu, floats: number, WG: number): string | null {
  if (!gpu.subgroups) return "the device has no subgroups";
  if (gpu.adapterInfo.subgroupMinSize < 8) {
    return `subgroups of ${gpu.adapterInfo.subgroupMinSize || "unknown"} invocations (need 8)`;
  }
  if (WG % 8 !== 0) return `WG=${WG} is not a multiple of 8`;
  const rows = Math.ceil(floats / 4 / DECODE_TEXTURE_WIDTH);
  if (rows > gpu.limits.maxTextureDimension2D) {
    return `${rows} texture rows exceed maxTextureDimension2D ${gpu.limits.maxTextureDimension2D}`;
  }
  return null;
}

/**
 * Creates the weight texture of `token_decode_lockstep_tex` and writes `data` (the decode
 * layout, a multiple of 4 floats) into it: rgba32float with STORAGE_BINDING usage (the kernel
 * reads it as a `texture_storage_2d<rgba32float, read>`), {@link DECODE_TEXTURE_WIDTH} texels
 * wide, texel t = floats 4t .. 4t + 3 at (t % width, t / width). The caller destroys it.
 *
 * @throws {RangeError} when the length is not a multiple of 4 or the texture would exceed the
 *   device's maxTextureDimension2D
 */
export function decodeWeightsTexture(gpu: Gpu, data: Float32Array<ArrayBuffer>): GPUTexture {
  const W = DECODE_TEXTURE_WIDTH, texels = data.length / 4;
  const rows = Math.ceil(texels / W);
  if (!Number.isInteger(texels) || rows > gpu.limits.maxTextureDimension2D) {
    throw new RangeError(
      `Cannot create the decode weight texture: ${data.length} floats do not fill ${W}-texel rows up to ${gpu.limits.maxTextureDimension2D}`,
    );
  }
  const texture = gpu.device.createTexture({
    label: "params:decode_texture",
    size: [W, Math.max(rows, 1)],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  const full = Math.floor(texels / W), rest = texels % W, bytesPerRow = W * 16;
  const q = gpu.device.queue;
  if (full > 0) {
    q.writeTexture({ texture }, data, { offset: 0, bytesPerRow, rowsPerImage: full }, [W, full]);
  }
  if (rest > 0) {
    q.writeTexture(
      { texture, origin: { x: 0, y: full } },
      data,
      { offset: full * bytesPerRow, bytesPerRow },
      [rest, 1],
    );
  }
  return texture;
}

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
  /** Add the partial sums with subgroup operations (needs `subgroups` and SPLIT = WG). */
  subgroup?: boolean;
}

/**
 * The default `matvec_decode` shape on `gpu`: CPU adapters one invocation per 4 rows in
 * workgroups of 8 (no barriers), real GPUs 16 invocations per 4 rows in workgroups of 64.
 */
export function matvecShape(gpu: Gpu): MatvecShape {
  return gpu.isCpu ? { WG: 8, SPLIT: 1 } : { WG: 64, SPLIT: 16 };
}

function _checkShape(plan: Plan, name: string, shape: MatvecShape): void {
  const { WG, SPLIT } = shape;
  if (!(WG >= 1 && WG <= 256 && SPLIT >= 1 && (SPLIT & (SPLIT - 1)) === 0 && WG % SPLIT === 0)) {
    throw new RangeError(`Cannot record ${name}: shape WG=${WG} SPLIT=${SPLIT} is invalid`);
  }
  if (shape.subgroup && !(SPLIT === WG && plan.gpu.subgroups)) {
    throw new RangeError(
      `Cannot record ${name}: subgroup sums need SPLIT = WG (got ${SPLIT}, ${WG}) and the device feature subgroups`,
    );
  }
}

function _checkTile(name: string, tile = 0): void {
  if (!(Number.isInteger(tile) && tile >= 0 && tile % 4 === 0)) {
    throw new RangeError(`Cannot record ${name}: tile ${tile} is not a multiple of 4`);
  }
}

function _checkC4(name: string, C: number): void {
  if (C % 4 !== 0) throw new RangeError(`Cannot record ${name}: C=${C} is not a multiple of 4`);
}

/** Workgroups for `rows` rows, 4 per group of SPLIT invocations. */
function _rowGrid(rows: number, shape: MatvecShape): [number, number, number] {
  return grid(Math.ceil(Math.ceil(rows / 4) / (shape.WG / shape.SPLIT)));
}

/**
 * Records `out[OC] = weight[OC, C] · xn` with xn = inp, or RMSNorm(inp) * norm_weight when
 * `norm` is given (the final norm fused into the classifier); `+=` when `accumulate` (the
 * residual add).
 *
 * @param plan the plan to record into
 * @param b buffers: out [OC], inp [C], weight [OC, C], norm_weight [C] (only with `norm`)
 * @param p sizes C (a multiple of 4) and OC; accumulate adds into out; norm: the RMSNorm eps;
 *   tile: rows per tile of `weight` (src/model/decode_layout.ts; default 0, row-major)
 * @param shape workgroup shape (default {@link matvecShape})
 * @throws {RangeError} for C not a multiple of 4 or a bad shape
 */
export function matvecDecode(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; weight: BufferBinding; norm_weight?: BufferBinding },
  p: { C: number; OC: number; accumulate?: boolean; norm?: { eps: number }; tile?: number },
  shape: MatvecShape = matvecShape(plan.gpu),
): void {
  _positive("matvec_decode", { C: p.C, OC: p.OC });
  _checkC4("matvec_decode", p.C);
  _checkShape(plan, "matvec_decode", shape);
  _checkTile("matvec_decode", p.tile);
  if (p.norm && !b.norm_weight) {
    throw new TypeError("Cannot record matvec_decode: norm needs a norm_weight binding");
  }
  plan.dispatch(
    shape.subgroup ? decodeSubgroupKernels.matvec : matvecDecodeKernel,
    { out: b.out, inp: b.inp, weight: b.weight, norm_weight: b.norm_weight ?? b.inp },
    {
      C: p.C,
      OC: p.OC,
      accumulate: p.accumulate ? 1 : 0,
      norm: p.norm ? 1 : 0,
      eps: p.norm?.eps ?? 0,
      tile: p.tile ?? 0,
    },
    _rowGrid(p.OC, shape),
    { WG: shape.WG, SPLIT: shape.SPLIT },
  );
}

/**
 * Records the attention inputs of one decode step (kernels/qkv_decode.wgsl): xn = inp, or
 * RMSNorm(inp) * norm_weight with `norm`, [q; k; v] = weight · xn, RoPE at `state.pos` on q and
 * k, q written, k and v written to row (layer, pos) of the caches. Writes nothing once
 * `state.done` is set.
 *
 * @param plan the plan to record into
 * @param b buffers: q [NH*HS], key_cache and value_cache [L, S, NKV*HS], inp [C], norm_weight
 *   [C] (only with `norm`), weight [C + 2 NKV*HS, C] (wq; wk; wv), state [4] u32, freqs
 *   [2, S, HS/2] (cos, then sin at `sin_offset`)
 * @param p sizes (C = NH * HS, a multiple of 4), sin_offset (floats), norm: the RMSNorm eps,
 *   tile: rows per tile of `weight` (default 0, row-major)
 * @param shape workgroup shape (default {@link matvecShape})
 * @throws {RangeError} for sizes the kernel cannot run
 */
export function qkvDecode(
  plan: Plan,
  b: {
    q: BufferBinding;
    key_cache: BufferBinding;
    value_cache: BufferBinding;
    inp: BufferBinding;
    norm_weight?: BufferBinding;
    weight: BufferBinding;
    state: BufferBinding;
    freqs: BufferBinding;
  },
  p: DecodeSizes & { sin_offset: number; norm?: { eps: number }; tile?: number },
  shape: MatvecShape = matvecShape(plan.gpu),
): void {
  _checkSizes("qkv_decode", p);
  _checkTile("qkv_decode", p.tile);
  const C = p.NH * p.HS, KV = p.NKV * p.HS;
  _checkC4("qkv_decode", C);
  _checkShape(plan, "qkv_decode", shape);
  if (p.norm && !b.norm_weight) {
    throw new TypeError("Cannot record qkv_decode: norm needs a norm_weight binding");
  }
  plan.dispatch(
    shape.subgroup ? decodeSubgroupKernels.qkv : qkvDecodeKernel,
    { ...b, norm_weight: b.norm_weight ?? b.inp },
    {
      C,
      KV,
      HS: p.HS,
      S: p.S,
      layer: p.layer,
      norm: p.norm ? 1 : 0,
      eps: p.norm?.eps ?? 0,
      sin_offset: p.sin_offset,
      tile: p.tile ?? 0,
    },
    _rowGrid(C + 2 * KV, shape),
    { WG: shape.WG, SPLIT: shape.SPLIT },
  );
}

/**
 * Records the SwiGLU hidden row of one decode step (kernels/ffn_decode.wgsl):
 * out = silu(w1 · xn) * (w3 · xn), xn = inp, or RMSNorm(inp) * norm_weight with `norm`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [H], inp [C], norm_weight [C] (only with `norm`), weight [2H, C] (w1
 *   and w3 rows interleaved)
 * @param p sizes C (a multiple of 4) and H; norm: the RMSNorm eps; tile: rows per tile of
 *   `weight` (default 0, row-major)
 * @param shape workgroup shape (default {@link matvecShape})
 * @throws {RangeError} for C not a multiple of 4 or a bad shape
 */
export function ffnDecode(
  plan: Plan,
  b: { out: BufferBinding; inp: BufferBinding; norm_weight?: BufferBinding; weight: BufferBinding },
  p: { C: number; H: number; norm?: { eps: number }; tile?: number },
  shape: MatvecShape = matvecShape(plan.gpu),
): void {
  _positive("ffn_decode", { C: p.C, H: p.H });
  _checkTile("ffn_decode", p.tile);
  _checkC4("ffn_decode", p.C);
  _checkShape(plan, "ffn_decode", shape);
  if (p.norm && !b.norm_weight) {
    throw new TypeError("Cannot record ffn_decode: norm needs a norm_weight binding");
  }
  const params = { C: p.C, H: p.H, norm: p.norm ? 1 : 0, eps: p.norm?.eps ?? 0, tile: p.tile ?? 0 };
  plan.dispatch(
    ffnDecodeKernel,
    { ...b, norm_weight: b.norm_weight ?? b.inp },
    params,
    _rowGrid(2 * p.H, shape),
    {
      WG: shape.WG,
      SPLIT: shape.SPLIT,
    },
  );
}

/**
 * Records `out[C] = weight[state.token, :]`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [C], state [4] u32, weight [V, C] (tok_embeddings)
 * @param p sizes: C; tile: rows per tile of `weight` (src/model/decode_layout.ts; default 0,
 *   row-major)
 */
export function embeddingDecode(
  plan: Plan,
  b: { out: BufferBinding; state: BufferBinding; weight: BufferBinding },
  p: { C: number; tile?: number },
): void {
  _positive("embedding_decode", { C: p.C });
  _checkTile("embedding_decode", p.tile);
  plan.dispatch(
    embeddingDecodeKernel,
    b,
    { C: p.C, tile: p.tile ?? 0 },
    grid(Math.ceil(p.C / WG)),
    {
      WG,
    },
  );
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

/** Sizes, decode-layout offsets and sampler settings of `token_decode` (kernels/token_decode.wgsl). */
export interface TokenDecodeParams extends SampleParams {
  /** Model width. */
  C: number;
  /** FFN width. */
  H: number;
  /** Layers. */
  L: number;
  /** Query heads. */
  NH: number;
  /** Key/value heads. */
  NKV: number;
  /** Head size. */
  HS: number;
  /** Cache length (max_seq_len). */
  S: number;
  /** RMSNorm epsilon. */
  eps: number;
  /** Float offset of tok_embeddings in `weights`. */
  emb: number;
  /** Float offset of layer 0's block. */
  layer0: number;
  /** Floats between layer blocks. */
  layer_stride: number;
  /** Rows per tile of the matrices (a multiple of 4; 4 * WG makes the loads consecutive). */
  tile: number;
  /** Offsets inside a layer block: rms_att [C]. */
  rms_att: number;
  /** wqkv [C + 2 KV, C]. */
  wqkv: number;
  /** wo [C, C]. */
  wo: number;
  /** rms_ffn [C]. */
  rms_ffn: number;
  /** w13 [2 H, C] (w1/w3 rows interleaved). */
  w13: number;
  /** w2 [C, H]. */
  w2: number;
  /** Float offset of rms_final. */
  rms_final: number;
  /** Float offset of the classifier [V, C]. */
  wcls: number;
  /** Float offset of the sin table in `freqs`. */
  sin_offset: number;
  /** Float offset of the value cache in `kv_cache`. */
  value_offset: number;
  /** Decode steps per dispatch (the loop stops early once the state is done). */
  tokens_per_dispatch: number;
}

/** Floats of `token_decode`'s scratch buffer: x, xn, q, att [C] each, hg [H], probs [V]. */
export function tokenScratchFloats(p: { C: number; H: number; V: number }): number {
  return 4 * p.C + p.H + p.V;
}

/** Workgroup floats `token_decode` has for the attention partials of its invocations. */
const TOKEN_ATTENTION_FLOATS = 3072;

/**
 * Invocations of `token_decode` (workgroup size WG) that run the attention loop over t: as many
 * as the workgroup memory holds partials for (G * (HS + 2) floats each), at most WG, a power of
 * two; 0 when even one does not fit or G * HS > 64 (the kernel cannot run that model).
 */
export function tokenAttentionLanes(
  p: { NH: number; NKV: number; HS: number },
  WG: number,
): number {
  const G = p.NH / p.NKV;
  if (G * p.HS > 64) return 0;
  let lanes = WG;
  while (lanes > 0 && lanes * G * (p.HS + 2) > TOKEN_ATTENTION_FLOATS) lanes >>= 1;
  return lanes;
}

/** The weight offsets of {@link TokenDecodeParams}. */
const _OFFSETS: readonly (keyof TokenDecodeParams)[] = [
  "emb",
  "layer0",
  "layer_stride",
  "rms_att",
  "wqkv",
  "wo",
  "rms_ffn",
  "w13",
  "w2",
  "rms_final",
  "wcls",
];

/** The first weight offset of `p` that is not a multiple of 16 floats (4 texels), or null. */
function _unaligned(p: TokenDecodeParams): string | null {
  const bad = _OFFSETS.find((k) => p[k] % 16 !== 0);
  return bad ? `offset ${bad}=${p[bad]} is not a multiple of 16 floats` : null;
}

/**
 * Records whole decode steps in one workgroup (kernels/token_decode.wgsl): up to
 * `tokens_per_dispatch` positions, each through every layer, the classifier and the sampler,
 * advancing `state` as {@link sample} does. The head size and heads per KV head become override
 * constants (one pipeline per head shape).
 *
 * @param plan the plan to record into
 * @param b buffers: weights (decode layout: a buffer, or a view of the texture of
 *   {@link decodeWeightsTexture}, which records `token_decode_lockstep_tex` and needs
 *   `lockstep`), freqs [2, S, HS/2], kv_cache [2, L, S, KV] (values at value_offset), state [4]
 *   u32, tokens [S + 1] u32, prompt u32, logits [V], scratch ({@link tokenScratchFloats})
 * @param p sizes, offsets and sampler settings
 * @param WG invocations in the workgroup (a power of two, 1..256)
 * @param lockstep record `token_decode_lockstep` (no barriers): only where WG equals
 *   {@link lockstepWidth}
 * @returns a handle to change the settings with `plan.setParams` (all of {@link TokenDecodeParams}
 *   except NH and HS)
 * @throws {RangeError} for sizes the kernel cannot run, lockstep where WG is not the adapter's
 *   lockstep width, or texture weights without lockstep, subgroups of 8, tiles of a multiple of
 *   4 * WG rows or offsets a multiple of 16 floats
 */
export function tokenDecode(
  plan: Plan,
  b: {
    weights: BufferBinding | GPUTextureView;
    freqs: BufferBinding;
    kv_cache: BufferBinding;
    state: BufferBinding;
    tokens: BufferBinding;
    prompt: BufferBinding;
    logits: BufferBinding;
    scratch: BufferBinding;
  },
  p: TokenDecodeParams,
  WG = 8,
  lockstep = false,
): DispatchHandle {
  checkSampleParams(p);
  _checkSizes("token_decode", { NH: p.NH, NKV: p.NKV, HS: p.HS, S: p.S, layer: 0 });
  _positive("token_decode", {
    C: p.C,
    H: p.H,
    L: p.L,
    tile: p.tile,
    tokens_per_dispatch: p.tokens_per_dispatch,
  });
  _checkTile("token_decode", p.tile);
  if (p.C % 4 !== 0 || p.H % 4 !== 0 || p.C !== p.NH * p.HS) {
    throw new RangeError(
      `Cannot record token_decode: C=${p.C} and H=${p.H} must be multiples of 4, C = NH*HS`,
    );
  }
  if (!(Number.isInteger(WG) && WG >= 1 && WG <= 256 && (WG & (WG - 1)) === 0)) {
    throw new RangeError(`Cannot record token_decode: WG=${WG} is not a power of two <= 256`);
  }
  const AL = tokenAttentionLanes(p, WG);
  if (AL === 0) {
    throw new RangeError(
      `Cannot record token_decode: ${
        p.NH / p.NKV
      } heads per KV head of size ${p.HS} exceed its attention buffers`,
    );
  }
  if (lockstep && WG !== lockstepWidth(plan.gpu)) {
    throw new RangeError(
      `Cannot record token_decode_lockstep: ${plan.gpu.description} does not run ${WG} invocations in lockstep`,
    );
  }
  const { NH, HS, ...params } = p;
  if (b.weights instanceof GPUTextureView) {
    const { weights, ...rest } = b;
    const why = !lockstep ? "texture weights need lockstep" : decodeTextureUnfit(plan.gpu, 0, WG) ??
      (p.tile % (4 * WG) !== 0 ? `tile ${p.tile} is not a multiple of 4 * WG = ${4 * WG}` : null) ??
      _unaligned(p);
    if (why) throw new RangeError(`Cannot record token_decode_lockstep_tex: ${why}`);
    return plan.dispatch(tokenDecodeLockstepTexKernel, { ...rest, weightsT: weights }, params, [
      1,
      1,
      1,
    ], { WG, AL, HS, G: NH / p.NKV });
  }
  const kernel = lockstep ? tokenDecodeLockstepKernel : tokenDecodeKernel;
  return plan.dispatch(kernel, b, params, [1, 1, 1], { WG, AL, HS, G: NH / p.NKV });
}
