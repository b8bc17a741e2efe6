/**
 * Data-parallel training (train.py under torchrun, DDP) on top of a {@link Communicator}: N
 * ranks, one model replica each, gradients summed across ranks once per optimizer step.
 *
 * - Settings: every rank must run with the same settings (checked at start, except the
 *   per-node paths `data_dir`/`out_dir` and the reporting-only `device_verbose`/`peak_flops`);
 *   `gradient_accumulation_steps` K is the global count and each rank runs K / N micro-steps
 *   (it must divide).
 * - Data: every rank draws the same stream of windows (the single-process sampler, same seed)
 *   and micro-batch k of a step goes to rank `N - 1 - (k mod N)`; a rank skips the windows of the
 *   others without reading them. So the N ranks together see exactly the windows one process
 *   with K micro-steps sees, and the last micro-batch (whose loss train.py logs) is rank 0's.
 *   (train.py instead seeds each rank's sampler differently; see the README.)
 * - Gradients: each rank scales its micro-batch losses by 1 / K (not 1 / (K / N)), so the sum
 *   over ranks is the mean over all K micro-batches: after the last micro-step the gradients go
 *   GPU -> host, one in-place all-reduce (sum), host -> GPU, then clipping and AdamW run
 *   identically on every rank. One extra float rides along: whether any rank was asked to stop.
 * - Start: parameters come from the same seed on every rank (or rank 0's checkpoint,
 *   broadcast) and a SHA-256 of each rank's GPU parameters is compared with rank 0's.
 * - Eval: eval batch k goes to rank `N - 1 - (k mod N)`; the loss sums are all-reduced, so every
 *   rank has the same eval losses (and takes the same checkpoint decisions); rank 0 alone
 *   prints, logs and writes files.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { BatchBuffers, PretokDataset, Split } from "../data/dataset.ts";
import type { LoadedCheckpoint } from "../io/checkpoint.ts";
import { tensorTable } from "../model/tensors.ts";
import type { ModelConfig } from "../model/config.ts";
import { agreeOnError, broadcastString, type Communicator } from "../dist/comm.ts";
import type { TrainConfig } from "./config.ts";

/** Settings that may differ between ranks: per-node paths and reporting only. */
const _LOCAL_SETTINGS: ReadonlySet<string> = new Set([
  "data_dir",
  "out_dir",
  "device_verbose",
  "peak_flops",
]);

/** Time spent on the gradient exchange of the last step. */
export interface ReduceTimings {
  /** Waiting for the GPU to finish the last micro-step (compute, not exchange; ms). */
  computeWaitMs: number;
  /** GPU -> host copy of the gradients (ms). */
  readbackMs: number;
  /** Waiting for the slowest rank to reach the exchange (a barrier; ms). */
  waitMs: number;
  /** The all-reduce itself (ms). */
  allReduceMs: number;
  /** Host -> GPU upload (ms). */
  uploadMs: number;
}

/**
 * One rank's side of a data-parallel run.
 *
 * @example
 * ```ts
 * import { openCommunicator } from "../dist/open.ts";
 * import { PretokDataset } from "../data/dataset.ts";
 * import { acquireGpu } from "../gpu/device.ts";
 * import { Model } from "../model/model.ts";
 * import { modelConfigFromTrain, TRAIN_DEFAULTS } from "./config.ts";
 *
 * const cfg = { ...TRAIN_DEFAULTS, batch_size: 8 }, B = 8, T = cfg.max_seq_len;
 * using gpu = await acquireGpu();
 * using dp = await DataParallel.create(openCommunicator(), cfg); // checks settings across ranks
 * using model = new Model(gpu, modelConfigFromTrain(cfg), { B, T, training: true });
 * using data = PretokDataset.open({ dataDir: "data", vocabSource: "llama2", vocabSize: 32000, seed: cfg.seed });
 * dp.attach(gpu, model.grads!, model.table.size, model.loss);
 * const batch = { x: new Uint32Array(B * T), y: new Int32Array(B * T) };
 * dp.takeBatch(data, "train", B, T, batch); // this rank's micro-batch of the shared stream
 * model.setBatch(batch.x, batch.y, cfg.gradient_accumulation_steps);
 * let enc = gpu.device.createCommandEncoder();
 * model.trainPlan.encode(enc);
 * enc = await dp.allReduceGrads(enc, false); // now every rank holds the sum; the optimizer goes in enc
 * ```
 */
export class DataParallel implements Disposable {
  /** Micro-steps this rank runs per optimizer step (K / N). */
  readonly accumSteps: number;
  /** Whether any rank asked to stop at the last gradient exchange. */
  stopRequested = false;
  /** Timings of the last gradient exchange. */
  readonly timings: ReduceTimings = {
    computeWaitMs: 0,
    readbackMs: 0,
    waitMs: 0,
    allReduceMs: 0,
    uploadMs: 0,
  };
  #gpu: Gpu | null = null;
  #grads: GPUBuffer | null = null;
  #loss: GPUBuffer | null = null;
  #staging: GPUBuffer | null = null;
  #host = new Float32Array(0);
  #n = 0;

  private constructor(readonly comm: Communicator, accumSteps: number) {
    this.accumSteps = accumSteps;
  }

  /** This rank. */
  get rank(): number {
    return this.comm.rank;
  }

  /** Number of ranks. */
  get size(): number {
    return this.comm.size;
  }

  /** Whether this rank prints, logs and writes files (rank 0). */
  get isWriter(): boolean {
    return this.comm.rank === 0;
  }

  /**
   * Checks that every rank has the same settings and that the ranks divide
   * `gradient_accumulation_steps`. Every rank must call it.
   *
   * @throws {CollectiveError} on every rank when a check fails
   */
  static async create(comm: Communicator, cfg: Readonly<TrainConfig>): Promise<DataParallel> {
    const mine = _shared(cfg);
    const root = JSON.parse(await broadcastString(comm, JSON.stringify(mine))) as Record<
      string,
      unknown
    >;
    let err: Error | null = null;
    const diff = Object.keys({ ...root, ...mine }).filter((k) =>
      JSON.stringify(root[k]) !== JSON.stringify(mine[k])
    );
    if (diff.length > 0) {
      const k = diff[0];
      err = new Error(
        `Cannot start data-parallel training: settings differ from rank 0's (${k} ${
          JSON.stringify(mine[k])
        }, rank 0 has ${JSON.stringify(root[k])}); give every rank the same flags`,
      );
    }
    await agreeOnError(comm, err);
    const K = cfg.gradient_accumulation_steps;
    if (K % comm.size !== 0) {
      await agreeOnError(
        comm,
        new Error(
          `Cannot start data-parallel training: gradient_accumulation_steps ${K} is not ` +
            `divisible by the ${comm.size} ranks (use a multiple of ${comm.size})`,
        ),
      );
    }
    return new DataParallel(comm, K / comm.size);
  }

  /**
   * Runs `fn` on every rank and fails on every rank if it failed on any (a disposable result
   * is disposed then), so that, say, missing data on one node ends the job with one line.
   *
   * @throws {CollectiveError} on every rank when `fn` threw on some rank
   */
  async all<T>(fn: () => T | Promise<T>): Promise<T> {
    let out: T | undefined, err: unknown = null;
    try {
      out = await fn();
    } catch (e) {
      err = e;
    }
    try {
      await agreeOnError(this.comm, err);
    } catch (e) {
      if (out && typeof out === "object") {
        if (Symbol.dispose in out) (out as Disposable)[Symbol.dispose]();
        else if (Symbol.asyncDispose in out) await (out as AsyncDisposable)[Symbol.asyncDispose]();
      }
      throw e;
    }
    return out as T;
  }

  /** Whether batch `k` of a group (micro-batch of a step, or eval batch) is this rank's. */
  owns(k: number): boolean {
    return k % this.size === this.size - 1 - this.rank;
  }

  /** The index among all ranks' micro-batches (0..K-1) of this rank's micro-step `micro`. */
  globalMicro(micro: number): number {
    return micro * this.size + this.size - 1 - this.rank;
  }

  /**
   * Draws the next N batches of the shared stream and reads this rank's one into `batch`
   * (micro-step `micro` of this rank is micro-batch {@link DataParallel.globalMicro} of the
   * step).
   */
  takeBatch(dataset: PretokDataset, split: Split, B: number, T: number, batch: BatchBuffers) {
    for (let i = 0; i < this.size; i++) {
      if (this.owns(i)) dataset.nextBatch(split, B, T, batch);
      else dataset.skipBatch(split, B, T);
    }
  }

  /**
   * The last exchange's timings for the log line: `grad sync S ms (all-reduce A ms, wait W
   * ms)`: S is the GPU -> host copy, the all-reduce and the upload; A the all-reduce alone; W
   * the time this rank waited for the slowest one (not part of S).
   */
  describeTimings(): string {
    const t = this.timings;
    const sync = t.readbackMs + t.allReduceMs + t.uploadMs;
    return `grad sync ${sync.toFixed(0)}ms (all-reduce ${t.allReduceMs.toFixed(0)}ms, wait ${
      t.waitMs.toFixed(0)
    }ms)`;
  }

  /** Sums a number over the ranks (f64). */
  async sum(x: number): Promise<number> {
    const a = new Float64Array([x]);
    await this.comm.allReduceSum(a);
    return a[0];
  }

  /**
   * Rank 0 runs `load` (reading the checkpoint) and broadcasts the result; the other ranks
   * receive it. A failure on rank 0 is thrown on every rank.
   *
   * @throws {CollectiveError} when rank 0's `load` failed
   */
  async shareCheckpoint<C extends object>(
    load: () => Promise<LoadedCheckpoint<C>>,
  ): Promise<LoadedCheckpoint<C>> {
    let ck: LoadedCheckpoint<C> | null = null;
    let err: unknown = null;
    if (this.isWriter) {
      try {
        ck = await load();
      } catch (e) {
        err = e;
      }
    }
    await agreeOnError(this.comm, err);
    const head = JSON.parse(
      await broadcastString(
        this.comm,
        ck
          ? JSON.stringify({
            config: ck.config,
            trainConfig: ck.trainConfig,
            iter: ck.iter,
            bestValLoss: String(ck.bestValLoss),
            rngState: ck.rngState,
            tensorsFile: ck.tensorsFile,
            generation: ck.generation,
          })
          : "",
      ),
    );
    const n = tensorTable(head.config as ModelConfig).size;
    const params = ck?.params ?? new Float32Array(n);
    const adamM = ck?.adamM ?? new Float32Array(n);
    const adamV = ck?.adamV ?? new Float32Array(n);
    for (const a of [params, adamM, adamV]) await this.comm.broadcast(a);
    return {
      ...head,
      bestValLoss: Number(head.bestValLoss),
      params,
      adamM,
      adamV,
    } as LoadedCheckpoint<C>;
  }

  /**
   * Compares a SHA-256 of this rank's parameters (read back from the GPU) with rank 0's.
   *
   * @throws {CollectiveError} on every rank when some rank's parameters differ
   */
  async checkParams(params: Float32Array<ArrayBuffer>): Promise<void> {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", params));
    const root = digest.slice();
    await this.comm.broadcast(root);
    const hex = (b: Uint8Array) =>
      [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join("");
    const same = root.every((b, i) => b === digest[i]);
    await agreeOnError(
      this.comm,
      same ? null : new Error(
        `Cannot start data-parallel training: the initial parameters differ from rank 0's ` +
          `(SHA-256 ${hex(digest)}..., rank 0 ${
            hex(root)
          }...); run the same babyllama on every rank`,
      ),
    );
  }

  /**
   * Binds the gradient buffer: allocates a staging buffer and a host copy (plus one float, the
   * stop flag).
   *
   * @param n floats of `grads` to exchange (the tensor table's size)
   * @param loss the model's loss buffer (f32 [1]): when a rank's last loss is not finite, its
   *   gradient contribution is made NaN, so that every rank's step guard (which skips a step
   *   whose loss or gradient norm is not finite) skips the same step
   */
  attach(gpu: Gpu, grads: GPUBuffer, n: number, loss?: GPUBuffer): void {
    this.#staging?.destroy();
    this.#gpu = gpu;
    this.#grads = grads;
    this.#loss = loss ?? null;
    this.#n = n;
    this.#staging = gpu.device.createBuffer({
      label: "grads:allreduce_staging",
      size: n * 4 + 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#host = new Float32Array(n + 1);
  }

  /**
   * Sums the gradients over the ranks: submits `enc` (the last micro-step's encoder) and waits
   * for it, copies the gradients to the host, waits for every rank (a barrier, so that the
   * all-reduce time measured is the transfer, not the imbalance), all-reduces them there,
   * uploads the sum. Also all-reduces `stop` (see {@link DataParallel.stopRequested}).
   *
   * @returns a fresh encoder for the optimizer step
   */
  async allReduceGrads(enc: GPUCommandEncoder, stop: boolean): Promise<GPUCommandEncoder> {
    const gpu = this.#gpu, grads = this.#grads, staging = this.#staging;
    if (!gpu || !grads || !staging) {
      throw new TypeError("Cannot all-reduce gradients: attach() the gradient buffer first");
    }
    const n = this.#n, host = this.#host;
    const tc = performance.now();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    const copy = gpu.device.createCommandEncoder({ label: "grads_readback" });
    copy.copyBufferToBuffer(grads, 0, staging, 0, n * 4);
    if (this.#loss) copy.copyBufferToBuffer(this.#loss, 0, staging, n * 4, 4);
    gpu.device.queue.submit([copy.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const mapped = new Float32Array(staging.getMappedRange(0, n * 4 + 4));
    host.set(mapped.subarray(0, n));
    const lossOk = !this.#loss || Number.isFinite(mapped[n]);
    staging.unmap();
    if (!lossOk) host[0] = NaN;
    host[n] = stop ? 1 : 0;
    const t1 = performance.now();
    await this.comm.barrier();
    const tb = performance.now();
    await this.comm.allReduceSum(host);
    const t2 = performance.now();
    gpu.device.queue.writeBuffer(grads, 0, host.buffer, 0, n * 4);
    this.stopRequested = host[n] > 0;
    this.timings.computeWaitMs = t0 - tc;
    this.timings.readbackMs = t1 - t0;
    this.timings.waitMs = tb - t1;
    this.timings.allReduceMs = t2 - tb;
    this.timings.uploadMs = performance.now() - t2;
    return gpu.device.createCommandEncoder({ label: "train_step_update" });
  }

  /** Destroys the staging buffer. */
  [Symbol.dispose](): void {
    this.#staging?.destroy();
    this.#staging = null;
  }
}

function _shared(cfg: Readonly<TrainConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(cfg).sort()) {
    if (!_LOCAL_SETTINGS.has(k)) out[k] = cfg[k as keyof TrainConfig];
  }
  return out;
}
