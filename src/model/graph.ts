/**
 * The compute graph of the Baby Llama 2 model (llama2.c's model.py Transformer), recorded into a
 * {@link Plan} one launcher call per line, in the order the GPU runs them (llm.c's
 * `gpt2_forward` and `gpt2_backward_and_reduce`). The buffers come from `allocateActivations`
 * (activations.ts); weights and gradients are per-layer slices of the flat `params` and `grads`
 * buffers (tensors.ts).
 *
 * Forward, per block l (x = residual stream, N = B*T rows):
 *   xn1 = rmsnorm(x, rms_att); q = rope(xn1·wqᵀ); k = rope(xn1·wkᵀ); v = xn1·wvᵀ;
 *   att = causal_attention(q, k, v) with grouped KV heads; xm = x + dropout(att·woᵀ);
 *   xn2 = rmsnorm(xm, rms_ffn); x' = xm + dropout(w2(silu(w1 xn2) * w3 xn2)).
 * Then xf = rmsnorm(x, rms_final); logits = xf·wclsᵀ (wcls = tok_embeddings when tied),
 * processed in row chunks that fit one binding, each followed by its cross-entropy.
 * Backward runs the same in reverse with one residual-gradient buffer `dres` that each block
 * adds into. The gradient of a normalised input (`dxn`) is summed over the matmuls that read it,
 * the first writing (`=`) and the rest adding (`+=`) in a fixed order, so every run gives the
 * same bits.
 *
 * - {@link recordForward}: embedding (+ dropout), {@link blockForward} per layer, final RMSNorm.
 * - {@link recordHead}: per row chunk classifier and cross-entropy (+ their backward), loss mean.
 * - {@link recordBackward}: final RMSNorm, {@link blockBackward} per layer in reverse, embedding.
 *
 * @module
 */
import type { BufferBinding } from "../gpu/buffers.ts";
import type { Plan } from "../gpu/plan.ts";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import { type TensorName, tensorRange, type TensorTable } from "./tensors.ts";
import type { Activations, ModelShape } from "./activations.ts";
import { matmulBackward, matmulForward, type MatmulSizes } from "../ops/matmul.ts";
import { rmsnormBackward, rmsnormForward } from "../ops/rmsnorm.ts";
import { embeddingBackward, embeddingForward } from "../ops/embedding.ts";
import { swigluBackward, swigluForward } from "../ops/swiglu.ts";
import { dropoutBackward, dropoutForward, type DropoutParams } from "../ops/dropout.ts";
import { residualForward } from "../ops/residual.ts";
import { ropeBackward, ropeForward, type RopeSizes } from "../ops/rope.ts";
import { attentionBackward, attentionForward, type AttentionSizes } from "../ops/attention.ts";
import { crossentropyBackward, crossentropyForward, lossMean } from "../ops/crossentropy.ts";

/** What the recorders bind: the shapes, the flat weights and gradients, every other buffer. */
export interface Graph {
  /** Model shape. */
  config: ModelConfig;
  /** Batch shape. */
  shape: ModelShape;
  /** Layout of `params` and `grads`. */
  table: TensorTable;
  /** Flat parameters. */
  params: GPUBuffer;
  /** Flat gradients (`null` when not training); the backward adds into them. */
  grads: GPUBuffer | null;
  /** Inputs, activations and scratch. */
  acts: Activations;
}

/** Sizes object of every launcher call (N = B*T rows; matmul sizes named by their weight). */
interface Sizes {
  N: number;
  C: number;
  V: number;
  embed: { N: number; C: number };
  rms: { N: number; C: number; eps: number };
  wq: MatmulSizes;
  wk: MatmulSizes;
  wv: MatmulSizes;
  wo: MatmulSizes;
  w1: MatmulSizes;
  w3: MatmulSizes;
  w2: MatmulSizes;
  ropeQ: RopeSizes;
  ropeK: RopeSizes;
  att: AttentionSizes;
  /** Elementwise over [N,C] (residual add). */
  res: { N: number };
  /** Elementwise over [N,H] (SwiGLU). */
  glu: { N: number };
  /** Dropout over [N,C] at `site` of `layer` (-1: the embedding), with its own mask. */
  drop: (site: number, layer: number) => DropoutParams;
}

function _sizes(g: Graph): Sizes {
  const { B, T } = g.shape, cfg = g.config, p = cfg.dropout;
  const N = B * T, C = cfg.dim, H = cfg.hidden_dim, V = cfg.vocab_size, KV = kvDim(cfg);
  const NH = cfg.n_heads, NKV = cfg.n_kv_heads, HS = headSize(cfg);
  return {
    N,
    C,
    V,
    embed: { N, C },
    rms: { N, C, eps: cfg.norm_eps },
    wq: { N, C, OC: C },
    wk: { N, C, OC: KV },
    wv: { N, C, OC: KV },
    wo: { N, C, OC: C },
    w1: { N, C, OC: H },
    w3: { N, C, OC: H },
    w2: { N, C: H, OC: C },
    ropeQ: { B, T, NH, HS },
    ropeK: { B, T, NH: NKV, HS },
    att: { B, T, NH, NKV, HS },
    res: { N: N * C },
    glu: { N: N * H },
    drop: (site, layer) => ({ N: N * C, p, salt: (layer + 1) * 16 + site }),
  };
}

/** The per-layer tensors of a block. */
type BlockTensor = "rms_att" | "wq" | "wk" | "wv" | "wo" | "rms_ffn" | "w1" | "w2" | "w3";
const BLOCK_TENSORS: BlockTensor[] = [
  "rms_att",
  "wq",
  "wk",
  "wv",
  "wo",
  "rms_ffn",
  "w1",
  "w2",
  "w3",
];

/** One layer's slice of a weight (in the flat params). */
function _param(g: Graph, name: TensorName, layer = 0): BufferBinding {
  return { buffer: g.params, ...tensorRange(g.table, name, layer) };
}

/** One layer's slice of a weight and of its gradient, to spread into a backward's bindings. */
function _trainable(g: Graph, name: TensorName, layer = 0): Trainable {
  return {
    weight: _param(g, name, layer),
    dweight: { buffer: g.grads!, ...tensorRange(g.table, name, layer) },
  };
}

/** A weight and its gradient. */
interface Trainable {
  weight: BufferBinding;
  dweight: BufferBinding;
}

/** `f` of each per-layer tensor of a block. */
function _block<V>(f: (name: BlockTensor) => V): Record<BlockTensor, V> {
  return Object.fromEntries(BLOCK_TENSORS.map((n) => [n, f(n)])) as Record<BlockTensor, V>;
}

/** Rows [r0, r0+n) of a row-major [*, width] f32 buffer. */
function _rows(buffer: GPUBuffer, r0: number, n: number, width: number): BufferBinding {
  return { buffer, offset: r0 * width * 4, size: n * width * 4 };
}

// ------------------------------------------------------------------------------------ forward

/**
 * Records the forward pass up to `xf = rmsnorm(x, rms_final)`.
 *
 * @param plan the plan to record into
 * @param g the model's buffers
 * @param train apply dropout (when the config has it)
 */
export function recordForward(plan: Plan, g: Graph, train: boolean): void {
  const s = _sizes(g), act = g.acts, drop = train && g.config.dropout > 0;
  const x0 = act.layers[0]?.x ?? act.resOut, emb = drop ? act.embRaw! : x0;
  const wte = _param(g, "tok_embeddings"), rmsf = _param(g, "rms_final");
  embeddingForward(plan, { out: emb, tokens: act.tokens, weight: wte }, s.embed);
  if (drop) dropoutForward(plan, { out: x0, inp: emb, seed: act.seed }, s.drop(0, -1));
  for (let l = 0; l < g.config.n_layers; l++) blockForward(plan, g, l, drop);
  rmsnormForward(plan, { out: act.xf, rstd: act.rstdf, inp: act.resOut, weight: rmsf }, s.rms);
}

/**
 * Records block `l` forward: its input `layers[l].x` to the next block's input (or `resOut`).
 *
 * @param plan the plan to record into
 * @param g the model's buffers
 * @param l the layer
 * @param drop apply dropout after wo and w2
 */
export function blockForward(plan: Plan, g: Graph, l: number, drop: boolean): void {
  const s = _sizes(g),
    act = g.acts,
    a = act.layers[l],
    w = _block((n) => _param(g, n, l)),
    seed = act.seed;
  const next = act.layers[l + 1]?.x ?? act.resOut;
  const rope = { freqs_cos: act.freqsCos, freqs_sin: act.freqsSin };
  const proj = act.proj, po = drop ? act.projDrop : proj; // po: proj after dropout
  // Attention: xm = x + dropout(att·woᵀ).
  rmsnormForward(plan, { out: a.xn1, rstd: a.rstd1, inp: a.x, weight: w.rms_att }, s.rms);
  matmulForward(plan, { out: act.qraw, inp: a.xn1, weight: w.wq }, s.wq);
  matmulForward(plan, { out: act.kraw, inp: a.xn1, weight: w.wk }, s.wk);
  matmulForward(plan, { out: a.v, inp: a.xn1, weight: w.wv }, s.wv);
  ropeForward(plan, { out: a.q, inp: act.qraw, ...rope }, s.ropeQ);
  ropeForward(plan, { out: a.k, inp: act.kraw, ...rope }, s.ropeK);
  attentionForward(plan, { out: a.att, lse: a.lse, q: a.q, k: a.k, v: a.v }, s.att);
  matmulForward(plan, { out: proj, inp: a.att, weight: w.wo }, s.wo);
  if (drop) dropoutForward(plan, { out: po, inp: proj, seed }, s.drop(1, l));
  residualForward(plan, { out: a.xm, inp1: a.x, inp2: po }, s.res);
  // FFN: x' = xm + dropout(w2(silu(w1 xn2) * w3 xn2)).
  rmsnormForward(plan, { out: a.xn2, rstd: a.rstd2, inp: a.xm, weight: w.rms_ffn }, s.rms);
  matmulForward(plan, { out: a.h1, inp: a.xn2, weight: w.w1 }, s.w1);
  matmulForward(plan, { out: a.h3, inp: a.xn2, weight: w.w3 }, s.w3);
  swigluForward(plan, { out: a.hg, h1: a.h1, h3: a.h3 }, s.glu);
  matmulForward(plan, { out: proj, inp: a.hg, weight: w.w2 }, s.w2);
  if (drop) dropoutForward(plan, { out: po, inp: proj, seed }, s.drop(2, l));
  residualForward(plan, { out: next, inp1: a.xm, inp2: po }, s.res);
}

// --------------------------------------------------------------------------------------- head

/**
 * Records the classifier and cross-entropy per row chunk (in training also their backward:
 * `logits` becomes its gradient, then dxf and dwcls), then the mean loss.
 *
 * @param plan the plan to record into
 * @param g the model's buffers
 * @param train record the chunks' backward too
 */
export function recordHead(plan: Plan, g: Graph, train: boolean): void {
  const { N, C, V } = _sizes(g), act = g.acts, R = act.chunkRows;
  const wcls = g.config.shared_classifier ? "tok_embeddings" : "wcls", weight = _param(g, wcls);
  for (let r0 = 0; r0 < N; r0 += R) {
    const n = Math.min(R, N - r0), cls = { N: n, C, OC: V }, ce = { R: n, V };
    const logits = _rows(act.logits, 0, n, V), inp = _rows(act.xf, r0, n, C);
    const losses = _rows(act.losses, r0, n, 1), lse = _rows(act.ceLse, r0, n, 1);
    const targets = _rows(act.targets, r0, n, 1), dloss = act.dlossScale;
    matmulForward(plan, { out: logits, inp, weight }, cls);
    crossentropyForward(plan, { losses, lse, logits, targets }, ce);
    if (!train) continue;
    const dinp = _rows(act.grad!.dxf, r0, n, C);
    crossentropyBackward(plan, { logits, lse, targets, dloss }, ce);
    matmulBackward(plan, { dinp, dout: logits, inp, ..._trainable(g, wcls) }, cls);
  }
  lossMean(plan, { loss: act.loss, losses: act.losses, scale: act.lossScale }, { N });
}

// ----------------------------------------------------------------------------------- backward

/**
 * Records the backward pass from dxf (written by {@link recordHead}) to every gradient, adding
 * into `grads`.
 *
 * @param plan the plan to record into
 * @param g the model's buffers (training)
 */
export function recordBackward(plan: Plan, g: Graph): void {
  const s = _sizes(g), { resOut, rstdf, seed, embIndex, grad } = g.acts, { dxf, dres, dxn } = grad!;
  const rmsf = _trainable(g, "rms_final"), dwte = _trainable(g, "tok_embeddings").dweight;
  const drop = g.config.dropout > 0, demb = drop ? dxn : dres; // d embedding before dropout
  plan.clear(dres);
  rmsnormBackward(plan, { dinp: dres, dout: dxf, inp: resOut, rstd: rstdf, ...rmsf }, s.rms);
  for (let l = g.config.n_layers - 1; l >= 0; l--) blockBackward(plan, g, l);
  if (drop) dropoutBackward(plan, { dinp: demb, dout: dres, seed }, s.drop(0, -1));
  embeddingBackward(plan, { dweight: dwte, dout: demb, index: embIndex! }, s.embed);
}

/**
 * Records block `l` backward: `dres` holds d of its output on entry and d of its input on exit;
 * its weights' gradients are added into `grads`.
 *
 * @param plan the plan to record into
 * @param g the model's buffers (training)
 * @param l the layer
 */
export function blockBackward(plan: Plan, g: Graph, l: number): void {
  const s = _sizes(g), act = g.acts, a = act.layers[l], seed = act.seed;
  const t = _block((n) => _trainable(g, n, l)); // weight + dweight of each block tensor
  const { dres, dxn, dproj, dhg, dh1, dh3, datt, dq, dk, dv, dqraw, dkraw } = act.grad!;
  const rope = { freqs_cos: act.freqsCos, freqs_sin: act.freqsSin };
  const saved = { q: a.q, k: a.k, v: a.v, out: a.att, lse: a.lse, scratch: act.grad!.attScratch };
  const dp = dproj ?? dres; // d before a dropout site (dres itself without dropout)
  const add = { accumulate: true }; // dxn sums the matmuls that read xn
  // FFN: x' = xm + dropout(w2(hg)); dres holds d x'.
  if (dproj) dropoutBackward(plan, { dinp: dproj, dout: dres, seed }, s.drop(2, l));
  matmulBackward(plan, { dinp: dhg, dout: dp, inp: a.hg, ...t.w2 }, s.w2);
  swigluBackward(plan, { dh1, dh3, dout: dhg, h1: a.h1, h3: a.h3 }, s.glu);
  matmulBackward(plan, { dinp: dxn, dout: dh1, inp: a.xn2, ...t.w1 }, s.w1);
  matmulBackward(plan, { dinp: dxn, dout: dh3, inp: a.xn2, ...t.w3 }, { ...s.w3, ...add });
  rmsnormBackward(plan, { dinp: dres, dout: dxn, inp: a.xm, rstd: a.rstd2, ...t.rms_ffn }, s.rms);
  // Attention: xm = x + dropout(att·woᵀ); dres holds d xm.
  if (dproj) dropoutBackward(plan, { dinp: dproj, dout: dres, seed }, s.drop(1, l));
  matmulBackward(plan, { dinp: datt, dout: dp, inp: a.att, ...t.wo }, s.wo);
  attentionBackward(plan, { dq, dk, dv, dout: datt, ...saved }, s.att);
  ropeBackward(plan, { dinp: dqraw, dout: dq, ...rope }, s.ropeQ);
  ropeBackward(plan, { dinp: dkraw, dout: dk, ...rope }, s.ropeK);
  matmulBackward(plan, { dinp: dxn, dout: dqraw, inp: a.xn1, ...t.wq }, s.wq);
  matmulBackward(plan, { dinp: dxn, dout: dkraw, inp: a.xn1, ...t.wk }, { ...s.wk, ...add });
  matmulBackward(plan, { dinp: dxn, dout: dv, inp: a.xn1, ...t.wv }, { ...s.wv, ...add });
  rmsnormBackward(plan, { dinp: dres, dout: dxn, inp: a.x, rstd: a.rstd1, ...t.rms_att }, s.rms);
}
