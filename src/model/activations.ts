/**
 * Every buffer a `Model`'s plans bind besides its parameters and gradients, allocated
 * once for a batch shape (llm.c's `gpt2_allocate_state` and `ActivationTensors`): the batch
 * inputs, the activations each block saves for its backward, the scratch the forward reuses
 * across blocks, the classifier's row chunk, and (when training) the gradient buffers the
 * backward reuses across blocks. Sizes are in f32 elements; N = B*T rows, C = dim,
 * H = hidden_dim, KV = n_kv_heads * head size, V = vocab_size.
 *
 * @module
 */
import type { BufferPool } from "../gpu/buffers.ts";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import { embeddingIndexLength } from "../ops/embedding.ts";
import { ropeFreqs } from "./rope_freqs.ts";

/** Batch shape and mode of a model. */
export interface ModelShape {
  /** Rows per batch. */
  B: number;
  /** Tokens per row (<= config.max_seq_len). */
  T: number;
  /** Allocate gradients and record the backward pass. */
  training: boolean;
}

/** What one block saves for its backward pass (x is the residual stream). */
export interface BlockActivations {
  /** Block input x [N,C]. */
  x: GPUBuffer;
  /** rmsnorm(x, rms_att) [N,C]. */
  xn1: GPUBuffer;
  /** Its 1/rms per row [N]. */
  rstd1: GPUBuffer;
  /** rope(xn1·wqᵀ) [N,C]. */
  q: GPUBuffer;
  /** rope(xn1·wkᵀ) [N,KV]. */
  k: GPUBuffer;
  /** xn1·wvᵀ [N,KV]. */
  v: GPUBuffer;
  /** Attention output, heads concatenated [N,C]. */
  att: GPUBuffer;
  /** Attention log-sum-exp per (b, head, t) [B*NH*T]. */
  lse: GPUBuffer;
  /** xm = x + dropout(att·woᵀ) [N,C]. */
  xm: GPUBuffer;
  /** rmsnorm(xm, rms_ffn) [N,C]. */
  xn2: GPUBuffer;
  /** Its 1/rms per row [N]. */
  rstd2: GPUBuffer;
  /** xn2·w1ᵀ [N,H]. */
  h1: GPUBuffer;
  /** xn2·w3ᵀ [N,H]. */
  h3: GPUBuffer;
  /** silu(h1) * h3 [N,H]. */
  hg: GPUBuffer;
}

/** Gradient buffers of the backward pass, one set reused by every block. */
export interface GradActivations {
  /** d xf [N,C], written by the classifier chunks' backward. */
  dxf: GPUBuffer;
  /** d x of the residual stream [N,C]: each block's backward adds into it. */
  dres: GPUBuffer;
  /** d of an RMSNorm's output [N,C], summed over the matmuls that read it. */
  dxn: GPUBuffer;
  /** d before a dropout site [N,C] (`null` without dropout). */
  dproj: GPUBuffer | null;
  /** d hg [N,H]. */
  dhg: GPUBuffer;
  /** d h1 [N,H]. */
  dh1: GPUBuffer;
  /** d h3 [N,H]. */
  dh3: GPUBuffer;
  /** d att [N,C]. */
  datt: GPUBuffer;
  /** d q after RoPE [N,C]. */
  dq: GPUBuffer;
  /** d k after RoPE [N,KV]. */
  dk: GPUBuffer;
  /** d v [N,KV]. */
  dv: GPUBuffer;
  /** d q before RoPE [N,C]. */
  dqraw: GPUBuffer;
  /** d k before RoPE [N,KV]. */
  dkraw: GPUBuffer;
  /** Attention backward's per-row scratch [B*NH*T]. */
  attScratch: GPUBuffer;
}

/** All buffers of a model's plans except parameters and gradients. */
export interface Activations {
  /** Input token ids, u32 [N]. */
  tokens: GPUBuffer;
  /** Target ids, i32 [N] (-1 = ignored). */
  targets: GPUBuffer;
  /** Tokens grouped by id for the embedding backward, u32 (`null` when not training). */
  embIndex: GPUBuffer | null;
  /** 1/(number of targets), f32 [1]: the loss mean. */
  lossScale: GPUBuffer;
  /** 1/(targets * gradient accumulation steps), f32 [1]: the loss gradient. */
  dlossScale: GPUBuffer;
  /** Dropout seed, u32 [1]. */
  seed: GPUBuffer;
  /** Mean loss, f32 [1]. */
  loss: GPUBuffer;
  /** RoPE cos table [T, HS/2]. */
  freqsCos: GPUBuffer;
  /** RoPE sin table [T, HS/2]. */
  freqsSin: GPUBuffer;
  /** Token embeddings before dropout [N,C] (`null` without dropout). */
  embRaw: GPUBuffer | null;
  /** Saved activations per block. */
  layers: BlockActivations[];
  /** Output of the last block [N,C] (the embedding output when n_layers = 0). */
  resOut: GPUBuffer;
  /** rmsnorm(resOut, rms_final) [N,C]. */
  xf: GPUBuffer;
  /** Its 1/rms per row [N]. */
  rstdf: GPUBuffer;
  /** xn1·wqᵀ before RoPE [N,C] (scratch shared by blocks). */
  qraw: GPUBuffer;
  /** xn1·wkᵀ before RoPE [N,KV] (scratch shared by blocks). */
  kraw: GPUBuffer;
  /** Output of wo or w2 before dropout [N,C] (scratch shared by blocks). */
  proj: GPUBuffer;
  /** proj after dropout [N,C] (`proj` itself without dropout). */
  projDrop: GPUBuffer;
  /** Rows per classifier chunk: the largest multiple of 64 whose logits fit one binding. */
  chunkRows: number;
  /** Logits of one chunk [chunkRows, V]; its gradient after the chunk's backward. */
  logits: GPUBuffer;
  /** Loss per row [N]. */
  losses: GPUBuffer;
  /** Cross-entropy log-sum-exp per row [N]. */
  ceLse: GPUBuffer;
  /** Backward buffers (`null` when not training). */
  grad: GradActivations | null;
}

/**
 * Rows per classifier chunk: all N rows when their logits fit one storage binding of
 * `maxBinding` bytes, else the most (a multiple of 64, so row offsets stay 256-byte aligned, at
 * least 64) that do. Pass the smaller of the device's maxStorageBufferBindingSize and
 * maxBufferSize: on a GPU that binds a whole batch's logits there is one chunk.
 *
 * @example
 * ```ts
 * classifierChunkRows(2 ** 32 - 1, 32000, 32 * 256); // 8192: B32 x T256 in one chunk
 * classifierChunkRows(2 ** 27, 32000, 32 * 256); // 1024 (llvmpipe's 128 MiB binding)
 * ```
 */
export function classifierChunkRows(maxBinding: number, V: number, N: number): number {
  const R = Math.floor(maxBinding / (V * 4));
  return R >= N ? N : Math.max(64, Math.floor(R / 64) * 64);
}

/**
 * Allocates every activation buffer of a model for one batch shape from `pool`.
 *
 * @param pool the pool that owns the buffers (its device's limits size the classifier chunk)
 * @param config model shape
 * @param shape batch shape; `training` adds the embedding index and the backward's buffers
 * @returns the buffers, labelled by their names
 * @throws {RangeError} when a buffer exceeds the device's maxBufferSize
 */
export function allocateActivations(
  pool: BufferPool,
  config: ModelConfig,
  shape: ModelShape,
): Activations {
  const { B, T, training } = shape;
  const N = B * T, C = config.dim, H = config.hidden_dim, V = config.vocab_size;
  const KV = kvDim(config), NH = config.n_heads, drop = config.dropout > 0;
  const f = (label: string, n: number) => pool.create(label, n * 4);
  const loss = f("loss", 4);
  const tokens = f("tokens", N);
  const targets = f("targets", N);
  const lossScale = f("loss_scale", 1);
  const dlossScale = f("dloss_scale", 1);
  const seed = f("dropout_seed", 1);
  const embIndex = training ? f("embedding_index", embeddingIndexLength(N)) : null;
  const { maxStorageBufferBindingSize, maxBufferSize } = pool.gpu.limits;
  const chunkRows = classifierChunkRows(Math.min(maxStorageBufferBindingSize, maxBufferSize), V, N);
  const freqs = ropeFreqs(headSize(config), T);
  const freqsCos = pool.upload("freqs_cos", freqs.cos);
  const freqsSin = pool.upload("freqs_sin", freqs.sin);
  const layers: BlockActivations[] = [];
  for (let l = 0; l < config.n_layers; l++) {
    layers.push({
      x: f(`res.${l}`, N * C),
      xn1: f(`xn1.${l}`, N * C),
      rstd1: f(`rstd1.${l}`, N),
      q: f(`q.${l}`, N * C),
      k: f(`k.${l}`, N * KV),
      v: f(`v.${l}`, N * KV),
      att: f(`att.${l}`, N * C),
      lse: f(`lse.${l}`, B * NH * T),
      xm: f(`res_mid.${l}`, N * C),
      xn2: f(`xn2.${l}`, N * C),
      rstd2: f(`rstd2.${l}`, N),
      h1: f(`h1.${l}`, N * H),
      h3: f(`h3.${l}`, N * H),
      hg: f(`hg.${l}`, N * H),
    });
  }
  const resOut = f("res_out", N * C);
  const xf = f("xf", N * C);
  const rstdf = f("rstdf", N);
  const qraw = f("q_raw", N * C);
  const kraw = f("k_raw", N * KV);
  const proj = f("proj", N * C);
  const projDrop = drop ? f("proj_dropout", N * C) : proj;
  const embRaw = drop ? f("emb_raw", N * C) : null;
  const logits = f("logits", chunkRows * V);
  const losses = f("losses", N);
  const ceLse = f("ce_lse", N);
  const grad = training
    ? {
      dxf: f("dxf", N * C),
      dres: f("dres", N * C),
      dxn: f("dxn", N * C),
      dproj: drop ? f("dproj", N * C) : null,
      dhg: f("dhg", N * H),
      dh1: f("dh1", N * H),
      dh3: f("dh3", N * H),
      datt: f("datt", N * C),
      dq: f("dq", N * C),
      dk: f("dk", N * KV),
      dv: f("dv", N * KV),
      dqraw: f("dq_raw", N * C),
      dkraw: f("dk_raw", N * KV),
      attScratch: f("att_scratch", B * NH * T),
    }
    : null;
  return {
    tokens,
    targets,
    embIndex,
    lossScale,
    dlossScale,
    seed,
    loss,
    freqsCos,
    freqsSin,
    embRaw,
    layers,
    resOut,
    xf,
    rstdf,
    qraw,
    kraw,
    proj,
    projDrop,
    chunkRows,
    logits,
    losses,
    ceLse,
    grad,
  };
}
