/**
 * train.py's training loop on the GPU: random windows from memory-mapped shards, periodic eval
 * on both splits, best-val checkpoints (plus model.bin), gradient accumulation, global-norm
 * clipping and AdamW on the GPU, warmup + cosine learning rate, exact resume.
 *
 * A step is one submit per micro-batch (the batch upload must land between them); the loss is
 * read back only when logged. Data-parallel (`opts.comm`, see `ddp.ts`): the gradients are
 * all-reduced between the last micro-step's backward and the optimizer, and rank 0 alone logs and
 * writes files.
 *
 * @module
 */
import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { readF32 } from "../gpu/buffers.ts";
import { Model } from "../model/model.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { hash32 } from "../util/rng.ts";
import { PretokDataset, type Split } from "../data/dataset.ts";
import { loadCheckpoint, type LoadedCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { lockOutDir } from "../io/lock.ts";
import {
  modelConfigFromTrain,
  resumedTrainConfig,
  tokensPerIter,
  type TrainConfig,
} from "./config.ts";
import { estimateMfu, getLr } from "./schedule.ts";
import { TrainLog } from "./log.ts";
import { AdamW } from "./optimizer.ts";
import { NanGuard } from "./nan_guard.ts";
import { DataParallel } from "./ddp.ts";
import type { Communicator } from "../dist/comm.ts";
import { holdTermination } from "../dist/signals.ts";
import { tunerFor } from "../gpu/tune.ts";

/** Options of {@link train}. */
export interface TrainOptions {
  /** Where progress lines go (default console.log). */
  print?: (line: string) => void;
  /**
   * Aborting (Ctrl-C) saves a checkpoint at the end of the current step and returns; during an
   * eval it stops the eval at the next batch and saves the last trained state.
   */
  signal?: AbortSignal;
  /**
   * Data-parallel training over these ranks (see `src/train/ddp.ts`): every rank calls
   * `train` with the same settings; rank 0 alone prints, logs and writes files. Absent, or a
   * single-process communicator: one process, as train.py without torchrun. On ranks other
   * than 0 the result's `lastLoss` is that rank's own last micro-batch loss. An eval is not cut short by
   * `signal` under data parallelism: every rank stops after the same step instead.
   */
  comm?: Communicator;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The step the loop stopped at. */
  iter: number;
  /** Best validation loss seen. */
  bestValLoss: number;
  /** Training loss logged last. */
  lastLoss: number;
  /** Whether it stopped on the abort signal. */
  interrupted: boolean;
}

/** Seed of eval batches: the same batches at every eval, as train.py's fresh iter_batches. */
const EVAL_SEED_OFFSET = 0x5eed;

/**
 * Runs training as train.py does with `cfg`.
 *
 * @throws {Error} when shards are missing (naming the command that makes them) or a resume
 *   checkpoint is absent or corrupt
 * @example
 * ```ts
 * import { parseCommand } from "../cli/args.ts";
 * import { acquireGpu } from "../gpu/device.ts";
 * import { TRAIN_FLAGS, trainConfigFromFlags } from "./config.ts";
 * import { train } from "./trainer.ts";
 *
 * using gpu = await acquireGpu();
 * await train(gpu, trainConfigFromFlags(parseCommand(TRAIN_FLAGS, ["--batch-size=8"]).values));
 * ```
 */
export async function train(
  gpu: Gpu,
  cfg: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  using dp = opts.comm && opts.comm.backend !== "single"
    ? await DataParallel.create(opts.comm, cfg)
    : null;
  const writer = dp === null || dp.isWriter;
  const print = writer ? opts.print ?? ((s: string) => console.log(s)) : () => {};
  const lock = () => writer ? lockOutDir(cfg.out_dir, { print }) : null;
  await using _lock = dp ? await dp.all(lock) : await lock();
  const B = cfg.batch_size, T = cfg.max_seq_len, K = cfg.gradient_accumulation_steps;
  const accum = dp ? dp.accumSteps : K; // micro-steps of this process
  let config: ModelConfig = modelConfigFromTrain(cfg);
  let iter = 0;
  let bestValLoss = 1e9;
  let resumed: LoadedCheckpoint<TrainConfig> | null = null;
  if (cfg.init_from === "resume") {
    const load = () => loadCheckpoint(cfg.out_dir, { trainConfig: resumedTrainConfig });
    resumed = dp ? await dp.shareCheckpoint(load) : await load();
    config = resumed.config;
    iter = resumed.iter;
    bestValLoss = resumed.bestValLoss;
    if (config.max_seq_len !== T) {
      throw new RangeError(
        `Cannot resume: checkpoint max_seq_len ${config.max_seq_len} differs from --max-seq-len ${T}`,
      );
    }
  }
  using dataset = dp ? await dp.all(() => _openDataset(cfg)) : _openDataset(cfg);
  if (resumed) dataset.setRngState(resumed.rngState);

  // In tune mode `full`, builds once, tunes the kernels the cache lacks, and builds again.
  using model = await tunerFor(gpu).build(() => new Model(gpu, config, { B, T, training: true }));
  await model.check();
  using opt = new AdamW(gpu, model.table, model.params, model.grads!, {
    weight_decay: cfg.weight_decay,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    eps: 1e-8,
    grad_clip: cfg.grad_clip,
  }, { loss: model.loss });
  await opt.plan.check();
  if (resumed) {
    model.setParams(resumed.params);
    opt.setState(resumed.adamM, resumed.adamV);
  } else {
    model.setParams(initParams(model.table, cfg.seed));
  }
  if (dp) {
    dp.attach(gpu, model.grads!, model.table.size, model.loss);
    await dp.checkParams(await model.readParams());
  }
  print(
    `model: ${model.table.numParams} parameters, dim ${config.dim}, ${config.n_layers} layers, ` +
      `${config.n_heads} heads, ${config.n_kv_heads} kv heads, vocab ${config.vocab_size}; ` +
      `tokens per iteration ${tokensPerIter(cfg)} (${accum} x ${
        dp ? `${dp.size} ranks x ` : ""
      }${B} x ${T}); adapter ${gpu.description}`,
  );
  if (resumed) {
    print(
      `resumed from ${join(cfg.out_dir, resumed.tensorsFile)} (generation ${resumed.generation}) ` +
        `at iter ${iter} (best val loss ${bestValLoss.toFixed(4)})`,
    );
  }

  await using log = writer
    ? await TrainLog.open(cfg.out_dir, resumed ? { resumeIter: iter } : {})
    : null;
  const batch = { x: new Uint32Array(B * T), y: new Int32Array(B * T) };
  const nan = new NanGuard(cfg.on_nan, iter, print);
  let savedIter = resumed ? iter : -1;
  const kept = () =>
    savedIter >= 0
      ? `${cfg.out_dir} keeps the checkpoint of iter ${savedIter}`
      : "no checkpoint was saved";
  // Under data parallelism every rank checks, and a failure is the same on every rank.
  const checkNan = () => dp ? dp.all(() => nan.checkNow(opt, kept())) : nan.checkNow(opt, kept());

  const saveState = async () => {
    await checkNan();
    if (!writer) return;
    using _hold = holdTermination();
    const { m, v } = await opt.readState();
    await saveCheckpoint(cfg.out_dir, {
      config,
      trainConfig: cfg,
      iter,
      bestValLoss,
      rngState: dataset.rngState(),
      params: await readF32(gpu, model.params, 0, model.table.size),
      adamM: m,
      adamV: v,
    });
    savedIter = iter;
  };

  /** Mean losses, or null when Ctrl-C came (checked at every batch boundary). */
  const estimateLoss = async (): Promise<Record<Split, number> | null> => {
    const saved = dataset.rngState();
    const out = { train: 0, val: 0 };
    for (const split of ["train", "val"] as const) {
      dataset.reseed(split, cfg.seed + EVAL_SEED_OFFSET);
      let sum = 0;
      for (let k = 0; k < cfg.eval_iters; k++) {
        if (!dp && opts.signal?.aborted) {
          dataset.setRngState(saved);
          return null;
        }
        if (dp && !dp.owns(k)) {
          dataset.skipBatch(split, B, T);
          continue;
        }
        dataset.nextBatch(split, B, T, batch);
        model.setBatch(batch.x, batch.y);
        model.forwardPlan.submit();
        sum += await model.readLoss();
      }
      out[split] = (dp ? await dp.sum(sum) : sum) / cfg.eval_iters;
    }
    dataset.setRngState(saved);
    return out;
  };

  let lastLoss = NaN;
  let runningMfu = -1;
  let localIter = 0;
  let interrupted = false;
  let t0 = performance.now();
  let sinceLog = 0;
  while (true) {
    const lr = getLr(iter, cfg);
    if (iter % cfg.eval_interval === 0) {
      const losses = await estimateLoss();
      if (losses === null) {
        interrupted = true;
        print(_evalInterrupted(iter, localIter > 0, resumed !== null, cfg.out_dir));
        if (localIter > 0) await saveState();
        break;
      }
      print(
        `step ${iter}: train loss ${losses.train.toFixed(4)}, val loss ${losses.val.toFixed(4)}`,
      );
      await log?.eval({ iter, train_loss: losses.train, val_loss: losses.val, lr });
      const checkEval = () => nan.checkEval(iter, losses.train, losses.val, kept());
      const finite = dp ? await dp.all(checkEval) : checkEval();
      if (finite && (losses.val < bestValLoss || cfg.always_save_checkpoint)) {
        bestValLoss = Math.min(bestValLoss, losses.val);
        if (iter > 0) {
          print(`saving checkpoint to ${cfg.out_dir}`);
          await saveState();
        }
      }
      t0 = performance.now();
      sinceLog = 0;
    }
    if (iter === 0 && cfg.eval_only) break;

    for (let micro = 0; micro < accum; micro++) {
      if (dp) dp.takeBatch(dataset, "train", B, T, batch);
      else dataset.nextBatch("train", B, T, batch);
      model.setBatch(batch.x, batch.y, K);
      if (config.dropout > 0) {
        const k = dp ? dp.globalMicro(micro) : micro;
        model.setDropoutSeed(hash32(hash32(cfg.seed) ^ (iter * K + k)));
      }
      let enc = gpu.device.createCommandEncoder({ label: "train_step" });
      if (micro === 0) enc.clearBuffer(model.grads!);
      model.trainPlan.encode(enc);
      if (micro === accum - 1) {
        if (dp) enc = await dp.allReduceGrads(enc, opts.signal?.aborted ?? false);
        opt.prepare(lr, iter + 1);
        opt.plan.encode(enc);
      }
      gpu.device.queue.submit([enc.finish()]);
    }

    sinceLog++;
    if (iter % cfg.log_interval === 0) {
      lastLoss = (await checkNan()).loss;
      const t1 = performance.now();
      const dt = (t1 - t0) / 1000 / sinceLog;
      t0 = t1;
      sinceLog = 0;
      if (localIter >= 5) {
        const mfu = estimateMfu(config, tokensPerIter(cfg) / (dp?.size ?? 1), dt, cfg.peak_flops);
        runningMfu = runningMfu === -1 ? mfu : 0.9 * runningMfu + 0.1 * mfu;
      }
      const tps = tokensPerIter(cfg) / dt;
      print(
        `${iter} | loss ${lastLoss.toFixed(4)} | lr ${lr.toExponential(6)} | ${
          (dt * 1000).toFixed(2)
        }ms | ` +
          `${tps.toFixed(0)} tok/s | mfu ${(runningMfu * 100).toFixed(2)}%` +
          (dp ? ` | ${dp.describeTimings()}` : ""),
      );
      await log?.train({
        iter,
        loss: lastLoss,
        lr,
        ms: dt * 1000,
        tokens_per_s: tps,
        mfu: runningMfu,
      });
    }
    iter++;
    localIter++;
    if (iter > cfg.max_iters) break;
    if (dp ? dp.stopRequested : opts.signal?.aborted) {
      interrupted = true;
      print(`interrupted: saving checkpoint at iter ${iter} to ${cfg.out_dir}`);
      await saveState();
      break;
    }
  }
  await checkNan();
  return { iter, bestValLoss, lastLoss, interrupted };
}

function _evalInterrupted(iter: number, trained: boolean, resumed: boolean, dir: string): string {
  const head = `interrupted: stopped the eval at iter ${iter};`;
  if (trained) return `${head} saving the last trained state (iter ${iter}) to ${dir}`;
  return resumed
    ? `${head} no step trained since the resume: ${dir} keeps the checkpoint of iter ${iter}`
    : `${head} no step trained yet, nothing to save`;
}

function _openDataset(cfg: TrainConfig): PretokDataset {
  return PretokDataset.open({
    dataDir: cfg.data_dir,
    vocabSource: cfg.vocab_source,
    vocabSize: cfg.vocab_size,
    seed: cfg.seed,
  });
}
