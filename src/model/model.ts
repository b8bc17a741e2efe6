/**
 * The Baby Llama 2 model on the GPU: parameters, activations and the recorded forward and
 * backward passes (llama2.c's model.py Transformer). One {@link Model} owns every buffer it
 * uses, allocated once for a fixed batch shape (B, T); a step replays recorded plans.
 *
 * Forward, per block l (x = residual stream, N = B*T rows):
 *   xn1 = rmsnorm(x, rms_att); q = rope(xn1·wqᵀ); k = rope(xn1·wkᵀ); v = xn1·wvᵀ;
 *   att = causal_attention(q, k, v) with grouped KV heads; xm = x + dropout(att·woᵀ);
 *   xn2 = rmsnorm(xm, rms_ffn); x' = xm + dropout(w2(silu(w1 xn2) * w3 xn2)).
 * Then xf = rmsnorm(x, rms_final); logits = xf·wclsᵀ (wcls = tok_embeddings when tied),
 * processed in row chunks that fit one binding, each followed by its cross-entropy.
 * Backward runs the same in reverse with one residual-gradient buffer `dres` that each block
 * adds into.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type BufferBinding, BufferPool, Readback, readF32, writeBuffer } from "../gpu/buffers.ts";
import { Plan } from "../gpu/plan.ts";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import { type TensorName, tensorRange, type TensorTable, tensorTable } from "./tensors.ts";
import { initParams } from "./init.ts";
import { matmulBackwardDinp, matmulBackwardDweight, matmulForward } from "../ops/matmul.ts";
import { rmsnormBackward, rmsnormForward } from "../ops/rmsnorm.ts";
import {
  embeddingBackward,
  embeddingForward,
  embeddingIndex,
  embeddingIndexLength,
} from "../ops/embedding.ts";
import { swigluBackward, swigluForward } from "../ops/swiglu.ts";
import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
import { residualForward } from "../ops/residual.ts";
import { ropeBackward, ropeForward } from "../ops/rope.ts";
import { ropeFreqs } from "./rope_freqs.ts";
import { attentionBackward, attentionForward } from "../ops/attention.ts";
import { crossentropyBackward, crossentropyForward, lossMean } from "../ops/crossentropy.ts";

/** Batch shape and mode of a {@link Model}. */
export interface ModelShape {
  /** Rows per batch. */
  B: number;
  /** Tokens per row (<= config.max_seq_len). */
  T: number;
  /** Allocate gradients and record the backward pass. */
  training: boolean;
}

/** Per-layer saved activations. */
interface LayerActs {
  res: GPUBuffer; // block input x [N,C]
  xn1: GPUBuffer;
  rstd1: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  att: GPUBuffer;
  lse: GPUBuffer;
  resMid: GPUBuffer;
  xn2: GPUBuffer;
  rstd2: GPUBuffer;
  h1: GPUBuffer;
  h3: GPUBuffer;
  hg: GPUBuffer;
}

/** Salt of a dropout site, so each site draws an independent mask. */
function _salt(site: number, layer: number): number {
  return (layer + 1) * 16 + site;
}

/**
 * A llama2.c Transformer on the GPU for one batch shape.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { modelConfig } from "./config.ts";
 * import { initParams } from "./init.ts";
 * import { Model } from "./model.ts";
 *
 * using gpu = await acquireGpu();
 * const config = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, vocab_size: 512 });
 * using model = new Model(gpu, config, { B: 4, T: 64, training: true });
 * model.setParams(initParams(model.table, 1337));
 * const x = Array.from({ length: 4 * 64 }, (_, i) => (7 * i) % 512); // B*T input ids
 * model.setBatch(x, x.map((id) => (id + 1) % 512)); // and their targets
 * model.trainPlan.submit();
 * console.log(await model.readLoss());
 * ```
 */
export class Model implements Disposable {
  /** The tensor table shared by params and grads. */
  readonly table: TensorTable;
  /** Flat parameters. */
  readonly params: GPUBuffer;
  /** Flat gradients (same layout); `null` when not training. Backward adds (`+=`) into it. */
  readonly grads: GPUBuffer | null;
  /** Mean loss of the last forward: f32 [1]. */
  readonly loss: GPUBuffer;
  /** Forward + loss. */
  readonly forwardPlan: Plan;
  /** Forward + loss + backward (gradients accumulate; clear them between optimizer steps). */
  readonly trainPlan: Plan;
  /** Rows per classifier chunk. */
  readonly chunkRows: number;
  /**
   * Logits of the last classifier chunk [chunkRows, V] after {@link Model.forwardPlan} (all
   * logits when B*T <= chunkRows); after the train plan it holds their gradient instead.
   */
  readonly logits: GPUBuffer;

  #pool: BufferPool;
  #N: number;
  #tokens: GPUBuffer;
  #targets: GPUBuffer;
  #embIndex: GPUBuffer | null;
  #embIndexCpu: Uint32Array<ArrayBuffer> | null;
  #lossScale: GPUBuffer; // f32 [1]: 1/count, for the loss mean
  #dlossScale: GPUBuffer; // f32 [1]: 1/(count * gradient accumulation steps)
  #seed: GPUBuffer; // u32 [1] dropout seed
  #scaleCpu = new Float32Array(2);
  #seedCpu = new Uint32Array(1);
  #lossReadback: Readback;
  #tokCpu: Uint32Array<ArrayBuffer>;
  #tgtCpu: Int32Array<ArrayBuffer>;

  /**
   * Allocates the parameters, activations and (when training) gradients, and records the plans.
   *
   * @param gpu the device owner
   * @param config model shape
   * @param shape batch shape and mode
   * @throws {RangeError} when T exceeds max_seq_len or buffers exceed the device's limits
   */
  constructor(readonly gpu: Gpu, readonly config: ModelConfig, readonly shape: ModelShape) {
    const { B, T, training } = shape;
    if (!(Number.isInteger(B) && B > 0 && Number.isInteger(T) && T > 0)) {
      throw new RangeError(`Cannot build model: batch shape ${B}x${T} must be positive integers`);
    }
    if (T > config.max_seq_len) {
      throw new RangeError(`Cannot build model: T=${T} exceeds max_seq_len ${config.max_seq_len}`);
    }
    this.table = tensorTable(config);
    const N = (this.#N = B * T);
    const C = config.dim, H = config.hidden_dim, V = config.vocab_size, L = config.n_layers;
    const KV = kvDim(config), NH = config.n_heads, HS = headSize(config);
    const pool = (this.#pool = new BufferPool(gpu));
    const f = (label: string, n: number) => pool.create(label, n * 4);

    this.params = f("params", this.table.size);
    this.grads = training ? f("grads", this.table.size) : null;
    this.loss = f("loss", 4);
    this.#lossReadback = new Readback(gpu, 4, "loss:readback");
    this.#tokens = f("tokens", N);
    this.#targets = f("targets", N);
    this.#lossScale = f("loss_scale", 1);
    this.#dlossScale = f("dloss_scale", 1);
    this.#seed = f("dropout_seed", 1);
    this.#tokCpu = new Uint32Array(N);
    this.#tgtCpu = new Int32Array(N);
    this.#embIndex = training ? f("embedding_index", embeddingIndexLength(N)) : null;
    this.#embIndexCpu = training ? new Uint32Array(embeddingIndexLength(N)) : null;

    const maxBinding = gpu.limits.maxStorageBufferBindingSize;
    let R = Math.floor(maxBinding / (V * 4));
    R = R >= N ? N : Math.max(64, Math.floor(R / 64) * 64);
    this.chunkRows = R;

    const freqs = ropeFreqs(HS, T);
    const freqsCos = pool.upload("freqs_cos", freqs.cos as Float32Array<ArrayBuffer>);
    const freqsSin = pool.upload("freqs_sin", freqs.sin as Float32Array<ArrayBuffer>);

    const layers: LayerActs[] = [];
    for (let l = 0; l < L; l++) {
      layers.push({
        res: f(`res.${l}`, N * C),
        xn1: f(`xn1.${l}`, N * C),
        rstd1: f(`rstd1.${l}`, N),
        q: f(`q.${l}`, N * C),
        k: f(`k.${l}`, N * KV),
        v: f(`v.${l}`, N * KV),
        att: f(`att.${l}`, N * C),
        lse: f(`lse.${l}`, B * NH * T),
        resMid: f(`res_mid.${l}`, N * C),
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
    const projDrop = config.dropout > 0 ? f("proj_dropout", N * C) : proj;
    const embRaw = config.dropout > 0 ? f("emb_raw", N * C) : null;
    const logits = (this.logits = f("logits", R * V));
    const losses = f("losses", N);
    const ceLse = f("ce_lse", N);

    const P = (name: TensorName, layer = 0): BufferBinding => ({
      buffer: this.params,
      ...tensorRange(this.table, name, layer),
    });
    const G = (name: TensorName, layer = 0): BufferBinding => ({
      buffer: this.grads!,
      ...tensorRange(this.table, name, layer),
    });
    const rows = (buf: GPUBuffer, r0: number, n: number, width: number): BufferBinding => ({
      buffer: buf,
      offset: r0 * width * 4,
      size: n * width * 4,
    });
    const wcls: TensorName = config.shared_classifier ? "tok_embeddings" : "wcls";
    const p = config.dropout;

    // ---------------------------------------------------------------- forward
    const recordForward = (plan: Plan, train: boolean) => {
      const drop = train && p > 0;
      const x0 = layers.length > 0 ? layers[0].res : resOut;
      if (drop) {
        embeddingForward(
          plan,
          { out: embRaw!, tokens: this.#tokens, weight: P("tok_embeddings") },
          { N, C },
        );
        dropoutForward(plan, { out: x0, inp: embRaw!, seed: this.#seed }, {
          N: N * C,
          p,
          salt: _salt(0, -1),
        });
      } else {
        embeddingForward(plan, { out: x0, tokens: this.#tokens, weight: P("tok_embeddings") }, {
          N,
          C,
        });
      }
      for (let l = 0; l < L; l++) {
        const a = layers[l];
        const next = l + 1 < L ? layers[l + 1].res : resOut;
        rmsnormForward(plan, { out: a.xn1, rstd: a.rstd1, inp: a.res, weight: P("rms_att", l) }, {
          N,
          C,
          eps: config.norm_eps,
        });
        matmulForward(plan, { out: qraw, inp: a.xn1, weight: P("wq", l) }, { N, C, OC: C });
        matmulForward(plan, { out: kraw, inp: a.xn1, weight: P("wk", l) }, { N, C, OC: KV });
        matmulForward(plan, { out: a.v, inp: a.xn1, weight: P("wv", l) }, { N, C, OC: KV });
        ropeForward(plan, { out: a.q, inp: qraw, freqs_cos: freqsCos, freqs_sin: freqsSin }, {
          B,
          T,
          NH,
          HS,
        });
        ropeForward(plan, { out: a.k, inp: kraw, freqs_cos: freqsCos, freqs_sin: freqsSin }, {
          B,
          T,
          NH: config.n_kv_heads,
          HS,
        });
        attentionForward(plan, { out: a.att, lse: a.lse, q: a.q, k: a.k, v: a.v }, {
          B,
          T,
          NH,
          NKV: config.n_kv_heads,
          HS,
        });
        matmulForward(plan, { out: proj, inp: a.att, weight: P("wo", l) }, { N, C, OC: C });
        if (drop) {
          dropoutForward(plan, { out: projDrop, inp: proj, seed: this.#seed }, {
            N: N * C,
            p,
            salt: _salt(1, l),
          });
        }
        residualForward(plan, { out: a.resMid, inp1: a.res, inp2: drop ? projDrop : proj }, {
          N: N * C,
        });
        rmsnormForward(
          plan,
          { out: a.xn2, rstd: a.rstd2, inp: a.resMid, weight: P("rms_ffn", l) },
          { N, C, eps: config.norm_eps },
        );
        matmulForward(plan, { out: a.h1, inp: a.xn2, weight: P("w1", l) }, { N, C, OC: H });
        matmulForward(plan, { out: a.h3, inp: a.xn2, weight: P("w3", l) }, { N, C, OC: H });
        swigluForward(plan, { out: a.hg, h1: a.h1, h3: a.h3 }, { N: N * H });
        matmulForward(plan, { out: proj, inp: a.hg, weight: P("w2", l) }, { N, C: H, OC: C });
        if (drop) {
          dropoutForward(plan, { out: projDrop, inp: proj, seed: this.#seed }, {
            N: N * C,
            p,
            salt: _salt(2, l),
          });
        }
        residualForward(plan, { out: next, inp1: a.resMid, inp2: drop ? projDrop : proj }, {
          N: N * C,
        });
      }
      rmsnormForward(plan, { out: xf, rstd: rstdf, inp: resOut, weight: P("rms_final") }, {
        N,
        C,
        eps: config.norm_eps,
      });
    };

    // Classifier + cross-entropy in row chunks; in training also their backward (dxf, dwcls).
    const dxf = training ? f("dxf", N * C) : null;
    const recordHead = (plan: Plan, train: boolean) => {
      for (let r0 = 0; r0 < N; r0 += R) {
        const n = Math.min(R, N - r0);
        const lg = rows(logits, 0, n, V);
        matmulForward(plan, { out: lg, inp: rows(xf, r0, n, C), weight: P(wcls) }, {
          N: n,
          C,
          OC: V,
        });
        crossentropyForward(plan, {
          losses: rows(losses, r0, n, 1),
          lse: rows(ceLse, r0, n, 1),
          logits: lg,
          targets: rows(this.#targets, r0, n, 1),
        }, { R: n, V });
        if (train) {
          crossentropyBackward(plan, {
            logits: lg,
            lse: rows(ceLse, r0, n, 1),
            targets: rows(this.#targets, r0, n, 1),
            dloss: this.#dlossScale,
          }, { R: n, V });
          matmulBackwardDinp(plan, { dinp: rows(dxf!, r0, n, C), dout: lg, weight: P(wcls) }, {
            N: n,
            C,
            OC: V,
          });
          matmulBackwardDweight(plan, { dweight: G(wcls), dout: lg, inp: rows(xf, r0, n, C) }, {
            N: n,
            C,
            OC: V,
          });
        }
      }
      lossMean(plan, { loss: this.loss, losses, scale: this.#lossScale }, { N });
    };

    // ---------------------------------------------------------------- backward
    const recordBackward = (plan: Plan) => {
      const dres = f("dres", N * C);
      const dxn = f("dxn", N * C);
      const dproj = p > 0 ? f("dproj", N * C) : null;
      const dhg = f("dhg", N * H);
      const dh1 = f("dh1", N * H);
      const dh3 = f("dh3", N * H);
      const datt = f("datt", N * C);
      const dq = f("dq", N * C);
      const dk = f("dk", N * KV);
      const dv = f("dv", N * KV);
      const dqraw = f("dq_raw", N * C);
      const dkraw = f("dk_raw", N * KV);
      const attScratch = f("att_scratch", B * NH * T);
      plan.clear(dres);
      rmsnormBackward(plan, {
        dinp: dres,
        dweight: G("rms_final"),
        dout: dxf!,
        inp: resOut,
        weight: P("rms_final"),
        rstd: rstdf,
      }, { N, C });
      for (let l = L - 1; l >= 0; l--) {
        const a = layers[l];
        // FFN: x' = xm + dropout(w2(hg)); dres holds d x'.
        let dffn: GPUBuffer = dres;
        if (dproj) {
          dropoutBackward(plan, { dinp: dproj, dout: dres, seed: this.#seed }, {
            N: N * C,
            p,
            salt: _salt(2, l),
          });
          dffn = dproj;
        }
        matmulBackwardDinp(plan, { dinp: dhg, dout: dffn, weight: P("w2", l) }, { N, C: H, OC: C });
        matmulBackwardDweight(plan, { dweight: G("w2", l), dout: dffn, inp: a.hg }, {
          N,
          C: H,
          OC: C,
        });
        swigluBackward(plan, { dh1, dh3, dout: dhg, h1: a.h1, h3: a.h3 }, { N: N * H });
        matmulBackwardDinp(plan, { dinp: dxn, dout: dh1, weight: P("w1", l) }, { N, C, OC: H });
        matmulBackwardDinp(plan, { dinp: dxn, dout: dh3, weight: P("w3", l) }, {
          N,
          C,
          OC: H,
          accumulate: true,
        });
        matmulBackwardDweight(plan, { dweight: G("w1", l), dout: dh1, inp: a.xn2 }, {
          N,
          C,
          OC: H,
        });
        matmulBackwardDweight(plan, { dweight: G("w3", l), dout: dh3, inp: a.xn2 }, {
          N,
          C,
          OC: H,
        });
        rmsnormBackward(plan, {
          dinp: dres,
          dweight: G("rms_ffn", l),
          dout: dxn,
          inp: a.resMid,
          weight: P("rms_ffn", l),
          rstd: a.rstd2,
        }, {
          N,
          C,
        });
        // Attention: xm = x + dropout(att·woᵀ); dres holds d xm.
        let dao: GPUBuffer = dres;
        if (dproj) {
          dropoutBackward(plan, { dinp: dproj, dout: dres, seed: this.#seed }, {
            N: N * C,
            p,
            salt: _salt(1, l),
          });
          dao = dproj;
        }
        matmulBackwardDinp(plan, { dinp: datt, dout: dao, weight: P("wo", l) }, { N, C, OC: C });
        matmulBackwardDweight(plan, { dweight: G("wo", l), dout: dao, inp: a.att }, {
          N,
          C,
          OC: C,
        });
        attentionBackward(plan, {
          dq,
          dk,
          dv,
          dout: datt,
          q: a.q,
          k: a.k,
          v: a.v,
          out: a.att,
          lse: a.lse,
          scratch: attScratch,
        }, { B, T, NH, NKV: config.n_kv_heads, HS });
        ropeBackward(plan, { dinp: dqraw, dout: dq, freqs_cos: freqsCos, freqs_sin: freqsSin }, {
          B,
          T,
          NH,
          HS,
        });
        ropeBackward(plan, { dinp: dkraw, dout: dk, freqs_cos: freqsCos, freqs_sin: freqsSin }, {
          B,
          T,
          NH: config.n_kv_heads,
          HS,
        });
        matmulBackwardDinp(plan, { dinp: dxn, dout: dqraw, weight: P("wq", l) }, { N, C, OC: C });
        matmulBackwardDinp(plan, { dinp: dxn, dout: dkraw, weight: P("wk", l) }, {
          N,
          C,
          OC: KV,
          accumulate: true,
        });
        matmulBackwardDinp(plan, { dinp: dxn, dout: dv, weight: P("wv", l) }, {
          N,
          C,
          OC: KV,
          accumulate: true,
        });
        matmulBackwardDweight(plan, { dweight: G("wq", l), dout: dqraw, inp: a.xn1 }, {
          N,
          C,
          OC: C,
        });
        matmulBackwardDweight(plan, { dweight: G("wk", l), dout: dkraw, inp: a.xn1 }, {
          N,
          C,
          OC: KV,
        });
        matmulBackwardDweight(plan, { dweight: G("wv", l), dout: dv, inp: a.xn1 }, {
          N,
          C,
          OC: KV,
        });
        rmsnormBackward(plan, {
          dinp: dres,
          dweight: G("rms_att", l),
          dout: dxn,
          inp: a.res,
          weight: P("rms_att", l),
          rstd: a.rstd1,
        }, {
          N,
          C,
        });
      }
      let demb: GPUBuffer = dres;
      if (p > 0) {
        dropoutBackward(plan, { dinp: dxn, dout: dres, seed: this.#seed }, {
          N: N * C,
          p,
          salt: _salt(0, -1),
        });
        demb = dxn;
      }
      embeddingBackward(
        plan,
        { dweight: G("tok_embeddings"), dout: demb, index: this.#embIndex! },
        { N, C },
      );
    };

    this.forwardPlan = new Plan(gpu, "forward");
    recordForward(this.forwardPlan, false);
    recordHead(this.forwardPlan, false);
    this.trainPlan = new Plan(gpu, "train_step");
    if (training) {
      recordForward(this.trainPlan, true);
      recordHead(this.trainPlan, true);
      recordBackward(this.trainPlan);
    }
  }

  /** Rows B*T of a batch. */
  get N(): number {
    return this.#N;
  }

  /** Bytes of GPU memory this model allocated. */
  get bytes(): number {
    return this.#pool.bytes;
  }

  /** Resolves when every recorded dispatch validated; rejects naming the failing kernel. */
  async check(): Promise<void> {
    await this.forwardPlan.check();
    await this.trainPlan.check();
  }

  /**
   * Uploads a flat parameter array in the tensor-table layout.
   *
   * @throws {TypeError} when its length is not the table's size
   */
  setParams(params: Float32Array<ArrayBuffer>): void {
    if (params.length !== this.table.size) {
      throw new TypeError(
        `Cannot set params: got ${params.length} floats, the tensor table has ${this.table.size}`,
      );
    }
    writeBuffer(this.gpu, this.params, params);
  }

  /** Initialises parameters like llama2.c (seeded). */
  initParams(seed: number): void {
    this.setParams(initParams(this.table, seed));
  }

  /** Reads the parameters back. */
  readParams(): Promise<Float32Array<ArrayBuffer>> {
    return readF32(this.gpu, this.params, 0, this.table.size);
  }

  /** Reads the gradients back. */
  readGrads(): Promise<Float32Array<ArrayBuffer>> {
    if (!this.grads) {
      throw new TypeError("Cannot read gradients: the model was built without training");
    }
    return readF32(this.gpu, this.grads, 0, this.table.size);
  }

  /**
   * Uploads a batch: inputs `x` and targets `y` (B*T each, row-major; targets of -1 are
   * ignored). The loss is the mean over non-ignored targets; the gradient is scaled by
   * `1/gradAccumSteps` so micro-batches add up to the mean over the accumulated batch.
   *
   * @throws {RangeError} for a token id outside the vocabulary or a wrong length
   */
  setBatch(x: ArrayLike<number>, y: ArrayLike<number>, gradAccumSteps = 1): void {
    const N = this.#N, V = this.config.vocab_size;
    if (x.length !== N || y.length !== N) {
      throw new RangeError(
        `Cannot set batch: need ${N} inputs and targets, got ${x.length} and ${y.length}`,
      );
    }
    let count = 0;
    for (let i = 0; i < N; i++) {
      const t = x[i], u = y[i];
      if (!(t >= 0 && t < V && Number.isInteger(t))) {
        throw new RangeError(
          `Cannot set batch: token ${t} at ${i} is outside the vocabulary of ${V}`,
        );
      }
      if (!(u >= -1 && u < V && Number.isInteger(u))) {
        throw new RangeError(
          `Cannot set batch: target ${u} at ${i} is outside the vocabulary of ${V}`,
        );
      }
      this.#tokCpu[i] = t;
      this.#tgtCpu[i] = u;
      if (u >= 0) count++;
    }
    writeBuffer(this.gpu, this.#tokens, this.#tokCpu);
    writeBuffer(this.gpu, this.#targets, this.#tgtCpu);
    this.#scaleCpu[0] = count > 0 ? 1 / count : 0;
    this.#scaleCpu[1] = count > 0 ? 1 / (count * gradAccumSteps) : 0;
    writeBuffer(this.gpu, this.#lossScale, this.#scaleCpu.subarray(0, 1));
    writeBuffer(this.gpu, this.#dlossScale, this.#scaleCpu.subarray(1, 2));
    if (this.#embIndex) {
      embeddingIndex(this.#tokCpu, this.#embIndexCpu!);
      writeBuffer(this.gpu, this.#embIndex, this.#embIndexCpu!);
    }
  }

  /** Sets the dropout seed for the next training step (a new mask each step). */
  setDropoutSeed(seed: number): void {
    this.#seedCpu[0] = seed >>> 0;
    writeBuffer(this.gpu, this.#seed, this.#seedCpu);
  }

  /** Reads the mean loss of the last submitted forward (one synchronisation). */
  async readLoss(): Promise<number> {
    const enc = this.gpu.device.createCommandEncoder({ label: "loss_readback" });
    this.#lossReadback.record(enc, this.loss);
    this.gpu.device.queue.submit([enc.finish()]);
    return new Float32Array(await this.#lossReadback.read())[0];
  }

  /** Destroys every buffer and plan of the model. */
  [Symbol.dispose](): void {
    this.forwardPlan[Symbol.dispose]();
    this.trainPlan[Symbol.dispose]();
    this.#lossReadback[Symbol.dispose]();
    this.#pool[Symbol.dispose]();
  }
}
