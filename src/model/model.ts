/**
 * The Baby Llama 2 model on the GPU (llama2.c's model.py Transformer): one {@link Model} owns
 * its parameters, gradients and activations, allocated once for a fixed batch shape (B, T), and
 * two recorded plans that a step replays. Like llm.c's train_gpt2.cu it is three parts:
 *
 * - activations.ts `allocateActivations` (llm.c's `gpt2_allocate_state`): every buffer;
 * - graph.ts `recordForward`, `recordHead`, `recordBackward` (llm.c's `gpt2_forward`,
 *   `gpt2_backward_and_reduce`): the graph, one launcher call per line, per block in
 *   `blockForward` and `blockBackward`;
 * - this file: the plans, and uploading batches and parameters and reading the loss back.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { BufferPool, Readback, readF32, writeBuffer } from "../gpu/buffers.ts";
import { Plan } from "../gpu/plan.ts";
import type { ModelConfig } from "./config.ts";
import { type TensorTable, tensorTable } from "./tensors.ts";
import { initParams } from "./init.ts";
import { embeddingIndex, embeddingIndexLength } from "../ops/embedding.ts";
import { type Activations, allocateActivations, type ModelShape } from "./activations.ts";
import { type Graph, recordBackward, recordForward, recordHead } from "./graph.ts";

export type { ModelShape } from "./activations.ts";

/** Compute dispatches one replay of each of a {@link Model}'s plans records. */
export interface ModelDispatches {
  /** {@link Model.forwardPlan}: forward + loss. */
  forward: number;
  /** {@link Model.trainPlan}: forward + loss + backward (0 when not training). */
  train: number;
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
  #acts: Activations;
  #embIndexCpu: Uint32Array<ArrayBuffer> | null;
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
    const N = (this.#N = B * T);
    this.table = tensorTable(config);
    this.#pool = new BufferPool(gpu);
    this.params = this.#pool.create("params", this.table.size * 4);
    this.grads = training ? this.#pool.create("grads", this.table.size * 4) : null;
    const acts = (this.#acts = allocateActivations(this.#pool, config, shape));
    this.loss = acts.loss;
    this.logits = acts.logits;
    this.chunkRows = acts.chunkRows;
    this.#lossReadback = new Readback(gpu, 4, "loss:readback");
    this.#tokCpu = new Uint32Array(N);
    this.#tgtCpu = new Int32Array(N);
    this.#embIndexCpu = training ? new Uint32Array(embeddingIndexLength(N)) : null;

    const g: Graph = {
      config,
      shape,
      table: this.table,
      params: this.params,
      grads: this.grads,
      acts,
    };
    this.forwardPlan = new Plan(gpu, "forward");
    recordForward(this.forwardPlan, g, false);
    recordHead(this.forwardPlan, g, false);
    this.trainPlan = new Plan(gpu, "train_step");
    if (training) {
      recordForward(this.trainPlan, g, true);
      recordHead(this.trainPlan, g, true);
      recordBackward(this.trainPlan, g);
    }
  }

  /** Rows B*T of a batch. */
  get N(): number {
    return this.#N;
  }

  /** Compute dispatches per replay of each plan (clears and copies not counted). */
  get dispatches(): ModelDispatches {
    return { forward: this.forwardPlan.dispatches, train: this.trainPlan.dispatches };
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
    writeBuffer(this.gpu, this.#acts.tokens, this.#tokCpu);
    writeBuffer(this.gpu, this.#acts.targets, this.#tgtCpu);
    this.#scaleCpu[0] = count > 0 ? 1 / count : 0;
    this.#scaleCpu[1] = count > 0 ? 1 / (count * gradAccumSteps) : 0;
    writeBuffer(this.gpu, this.#acts.lossScale, this.#scaleCpu.subarray(0, 1));
    writeBuffer(this.gpu, this.#acts.dlossScale, this.#scaleCpu.subarray(1, 2));
    if (this.#acts.embIndex) {
      embeddingIndex(this.#tokCpu, this.#embIndexCpu!);
      writeBuffer(this.gpu, this.#acts.embIndex, this.#embIndexCpu!);
    }
  }

  /** Sets the dropout seed for the next training step (a new mask each step). */
  setDropoutSeed(seed: number): void {
    this.#seedCpu[0] = seed >>> 0;
    writeBuffer(this.gpu, this.#acts.seed, this.#seedCpu);
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
