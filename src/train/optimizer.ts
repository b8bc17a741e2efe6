/**
 * AdamW on the GPU, as train.py configures it: global-norm gradient clipping (computed on the
 * GPU), then torch.optim.AdamW with weight decay only on 2-D weights. `adam_m` and `adam_v`
 * share the tensor table's layout with params and grads. Given the model's loss buffer, a step
 * guard between the norm and the update skips, on the GPU, a step whose loss or gradient norm is
 * NaN or infinite, and counts it in a small status the trainer reads at its log steps.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { BufferPool, Readback, readF32, writeBuffer } from "../gpu/buffers.ts";
import { Plan } from "../gpu/plan.ts";
import type { TensorTable } from "../model/tensors.ts";
import {
  adamwUpdate,
  decodeStepStatus,
  globalNorm,
  partialsLength,
  STEP_STATUS_BYTES,
  stepGuard,
  type StepStatus,
} from "../ops/adamw.ts";

/** AdamW hyperparameters (train.py's names). */
export interface AdamWConfig {
  /** Decoupled weight decay for 2-D weights. */
  weight_decay: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon (torch's default 1e-8). */
  eps: number;
  /** Global-norm clip (0 disables). */
  grad_clip: number;
}

/**
 * AdamW state and its recorded update plan.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { modelConfig } from "../model/config.ts";
 * import { Model } from "../model/model.ts";
 * import { AdamW } from "./optimizer.ts";
 *
 * using gpu = await acquireGpu();
 * const config = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, vocab_size: 512 });
 * using model = new Model(gpu, config, { B: 4, T: 64, training: true });
 * const hyper = { weight_decay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, grad_clip: 1 };
 * using opt = new AdamW(gpu, model.table, model.params, model.grads!, hyper);
 * const encoder = gpu.device.createCommandEncoder();
 * opt.prepare(5e-4, 1); // learning rate, step (counting from 1)
 * opt.plan.encode(encoder); // in the same encoder as the train step
 * ```
 */
export class AdamW implements Disposable {
  /** First moments (tensor-table layout). */
  readonly m: GPUBuffer;
  /** Second moments (tensor-table layout). */
  readonly v: GPUBuffer;
  /** [global grad norm, clip scale] of the last update. */
  readonly gnorm: GPUBuffer;
  /** Clip, then update every tensor. */
  readonly plan: Plan;
  /** The step guard's counters ({@link StepStatus}), or null without a loss buffer. */
  readonly status: GPUBuffer | null;
  #pool: BufferPool;
  #hyper: GPUBuffer;
  #hyperCpu = new Float32Array(6);
  #statusReadback: Readback | null = null;

  /**
   * Allocates the moment buffers and records the update plan.
   *
   * @param gpu the device owner
   * @param table the tensor table
   * @param params flat parameters
   * @param grads flat gradients
   * @param config hyperparameters
   * @param guard `loss`: the model's loss buffer; records the step guard (skip a step whose
   *   loss or gradient norm is not finite)
   */
  constructor(
    readonly gpu: Gpu,
    readonly table: TensorTable,
    params: GPUBuffer,
    grads: GPUBuffer,
    readonly config: AdamWConfig,
    guard: { loss?: GPUBuffer } = {},
  ) {
    const pool = (this.#pool = new BufferPool(gpu));
    this.m = pool.create("adam_m", table.size * 4);
    this.v = pool.create("adam_v", table.size * 4);
    this.gnorm = pool.create("grad_norm", 8);
    this.#hyper = pool.create("adam_hyper", 6 * 4);
    const partials = pool.create("grad_norm_partials", partialsLength(table.size) * 4);
    this.plan = new Plan(gpu, "adamw");
    globalNorm(this.plan, { out: this.gnorm, partials, grads }, {
      N: table.size,
      clip: config.grad_clip,
    });
    this.status = null;
    if (guard.loss) {
      this.status = pool.create("step_status", STEP_STATUS_BYTES);
      this.#statusReadback = new Readback(gpu, STEP_STATUS_BYTES, "step_status:readback");
      stepGuard(this.plan, { gnorm: this.gnorm, loss: guard.loss, status: this.status });
    }
    for (const e of table.entries) {
      const range = { offset: e.offset * 4, size: e.layers * e.layerStride * 4 };
      adamwUpdate(this.plan, {
        params: { buffer: params, ...range },
        grads: { buffer: grads, ...range },
        m: { buffer: this.m, ...range },
        v: { buffer: this.v, ...range },
        hyper: this.#hyper,
        gnorm: this.gnorm,
      }, { N: e.layers * e.layerStride, weight_decay: e.decay ? config.weight_decay : 0 });
    }
  }

  /** Writes the learning rate and bias corrections for update number `step` (from 1). */
  prepare(lr: number, step: number): void {
    const { beta1, beta2, eps } = this.config;
    this.#hyperCpu.set([lr, beta1, beta2, eps, 1 - beta1 ** step, 1 - beta2 ** step]);
    writeBuffer(this.gpu, this.#hyper, this.#hyperCpu);
  }

  /** Uploads moments (from a checkpoint). */
  setState(m: Float32Array<ArrayBuffer>, v: Float32Array<ArrayBuffer>): void {
    if (m.length !== this.table.size || v.length !== this.table.size) {
      throw new TypeError(
        `Cannot set AdamW state: need ${this.table.size} floats each, got ${m.length} and ${v.length}`,
      );
    }
    writeBuffer(this.gpu, this.m, m);
    writeBuffer(this.gpu, this.v, v);
  }

  /** Reads the moments back (for a checkpoint). */
  async readState(): Promise<{ m: Float32Array<ArrayBuffer>; v: Float32Array<ArrayBuffer> }> {
    return {
      m: await readF32(this.gpu, this.m, 0, this.table.size),
      v: await readF32(this.gpu, this.v, 0, this.table.size),
    };
  }

  /** Reads [grad norm, clip scale] of the last update. */
  async readGradNorm(): Promise<number> {
    return (await readF32(this.gpu, this.gnorm, 0, 1))[0];
  }

  /**
   * Reads the step guard's status (one synchronisation): steps and skips so far, and the loss
   * and gradient norm of the last step.
   *
   * @throws {TypeError} when the optimizer was built without a loss buffer
   */
  async readStatus(): Promise<StepStatus> {
    if (!this.status || !this.#statusReadback) {
      throw new TypeError("Cannot read the step status: AdamW was built without a loss buffer");
    }
    const enc = this.gpu.device.createCommandEncoder({ label: "step_status_readback" });
    this.#statusReadback.record(enc, this.status);
    this.gpu.device.queue.submit([enc.finish()]);
    return decodeStepStatus(await this.#statusReadback.read());
  }

  /** Destroys the state buffers and the plan. */
  [Symbol.dispose](): void {
    this.#statusReadback?.[Symbol.dispose]();
    this.plan[Symbol.dispose]();
    this.#pool[Symbol.dispose]();
  }
}
