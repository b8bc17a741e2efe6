/**
 * Training settings: every setting of llama2.c's `train.py` with its default, as command-line
 * flags (`--batch-size 32`, or train.py's spelling `--batch_size=32`) and as a JSON config file
 * (`--config run.json`, keys in snake_case or kebab-case). Flags given on the command line
 * override the file; the file overrides the defaults.
 *
 * Left out of train.py's list: `device`, `dtype`, `compile` and the wandb settings (they have no
 * meaning here). Added: `peak_flops`, the adapter's peak FLOP/s that MFU is measured against.
 *
 * @module
 */
import { coerceFlag, type FlagSpecs, type FlagValues, UsageError } from "../util/flags.ts";
import { type ModelConfig, modelConfig } from "../model/config.ts";

/** All training settings, named as in train.py. */
export interface TrainConfig {
  /** Micro-batch size B (rows per forward/backward). */
  batch_size: number;
  /** Sequence length T, also the model's max_seq_len. */
  max_seq_len: number;
  /** `llama2` (Meta's 32000-token vocabulary) or `custom` (a trained `tok{N}` vocabulary). */
  vocab_source: "llama2" | "custom";
  /** Vocabulary size V (32000 for llama2). */
  vocab_size: number;
  /** Model width C. */
  dim: number;
  /** Transformer blocks L. */
  n_layers: number;
  /** Query heads NH. */
  n_heads: number;
  /** Key/value heads NKV. */
  n_kv_heads: number;
  /** FFN width rounding. */
  multiple_of: number;
  /** Dropout probability. */
  dropout: number;
  /** Micro-batches per optimizer step. */
  gradient_accumulation_steps: number;
  /** Peak learning rate. */
  learning_rate: number;
  /** Optimizer steps in total (also the end of the cosine decay). */
  max_iters: number;
  /** AdamW weight decay (2-D weights only). */
  weight_decay: number;
  /** AdamW beta1. */
  beta1: number;
  /** AdamW beta2. */
  beta2: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  grad_clip: number;
  /** Cosine decay with warmup; false keeps the learning rate constant. */
  decay_lr: boolean;
  /** Linear warmup steps. */
  warmup_iters: number;
  /** Steps between evaluations (and checkpoints). */
  eval_interval: number;
  /** Steps between log lines. */
  log_interval: number;
  /** Batches per split per evaluation. */
  eval_iters: number;
  /** Stop after the first evaluation. */
  eval_only: boolean;
  /** Save a checkpoint after every evaluation, not only when val loss improves. */
  always_save_checkpoint: boolean;
  /** `scratch` (new model) or `resume` (from out_dir's checkpoint). */
  init_from: "scratch" | "resume";
  /** Directory for checkpoints, model.bin, log.jsonl and loss.svg. */
  out_dir: string;
  /** Seed for initialisation and batch sampling. */
  seed: number;
  /** Directory holding `TinyStories_all_data/` or `tok{N}/` shards. */
  data_dir: string;
  /** Adapter peak FLOP/s used as MFU's denominator. */
  peak_flops: number;
  /** Print adapter details and timing on stderr. */
  device_verbose: boolean;
  /**
   * A step whose loss or gradient norm is NaN or infinite: `stop` the run (exit 1, nothing
   * saved), or `skip` its update and go on (giving up after {@link MAX_NAN_SKIPS} in a row).
   */
  on_nan: "stop" | "skip";
}

/** `--on-nan skip` stops the run when this many steps in a row were skipped. */
export const MAX_NAN_SKIPS = 10;

/** train.py's defaults (plus `peak_flops` 1e12, `device_verbose` false, `on_nan` stop). */
export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  batch_size: 128,
  max_seq_len: 256,
  vocab_source: "llama2",
  vocab_size: 32000,
  dim: 288,
  n_layers: 6,
  n_heads: 6,
  n_kv_heads: 6,
  multiple_of: 32,
  dropout: 0,
  gradient_accumulation_steps: 4,
  learning_rate: 5e-4,
  max_iters: 100000,
  weight_decay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  grad_clip: 1.0,
  decay_lr: true,
  warmup_iters: 1000,
  eval_interval: 2000,
  log_interval: 1,
  eval_iters: 100,
  eval_only: false,
  always_save_checkpoint: false,
  init_from: "scratch",
  out_dir: "out",
  seed: 1337,
  data_dir: "data",
  peak_flops: 1e12,
  device_verbose: false,
  on_nan: "stop",
});

const _HELP: Record<keyof TrainConfig, string> = {
  batch_size: "micro-batch size B (rows per forward/backward)",
  max_seq_len: "sequence length T (the model's max_seq_len)",
  vocab_source: "llama2 (Meta's 32000 tokens) or custom (DATA_DIR/tok{N})",
  vocab_size: "vocabulary size V (32000 for llama2)",
  dim: "model width C",
  n_layers: "transformer blocks L",
  n_heads: "query heads NH",
  n_kv_heads: "key/value heads NKV (divides n-heads)",
  multiple_of: "FFN hidden size rounding",
  dropout: "dropout probability",
  gradient_accumulation_steps: "micro-batches per optimizer step",
  learning_rate: "peak learning rate",
  max_iters: "optimizer steps in total (end of the cosine decay)",
  weight_decay: "AdamW weight decay (2-D weights only)",
  beta1: "AdamW beta1",
  beta2: "AdamW beta2",
  grad_clip: "clip the global gradient norm (0 disables)",
  decay_lr: "cosine decay after warmup (--no-decay-lr: constant)",
  warmup_iters: "linear warmup steps",
  eval_interval: "steps between evaluations and checkpoints",
  log_interval: "steps between log lines",
  eval_iters: "batches per split per evaluation",
  eval_only: "stop after the first evaluation",
  always_save_checkpoint: "checkpoint after every evaluation, not only on improvement",
  init_from: "scratch or resume (from OUT_DIR's checkpoint)",
  out_dir: "directory for ckpt.*, model.bin, log.jsonl, loss.svg",
  seed: "seed for initialisation and batch sampling",
  data_dir: "directory with TinyStories_all_data/ or tok{N}/ shards",
  peak_flops: "adapter peak FLOP/s, the denominator of MFU",
  device_verbose: "print adapter details and timings on stderr",
  on_nan:
    `non-finite loss or gradients: stop, or skip the update (stops at ${MAX_NAN_SKIPS} in a row)`,
};

const _CHOICES: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  vocab_source: ["llama2", "custom"],
  init_from: ["scratch", "resume"],
  on_nan: ["stop", "skip"],
};

const _kebab = (k: string) => k.replaceAll("_", "-");
const _snake = (k: string) => k.replaceAll("-", "_");

function _buildFlags(): FlagSpecs {
  const specs: FlagSpecs = {
    config: { type: "string", help: "JSON file of settings (snake_case or kebab-case keys)" },
  };
  for (const [k, def] of Object.entries(TRAIN_DEFAULTS) as [keyof TrainConfig, unknown][]) {
    const choices = _CHOICES[k];
    specs[_kebab(k)] = {
      type: choices ?? (typeof def as "string" | "number" | "boolean"),
      default: def as string | number | boolean,
      help: _HELP[k],
    };
  }
  return specs;
}

/**
 * The `train` command's flags: `--config FILE.json` plus one kebab-case flag per
 * {@link TrainConfig} field, with train.py's defaults.
 */
export const TRAIN_FLAGS: FlagSpecs = _buildFlags();

/**
 * Resolves the training settings: defaults, then the JSON config file, then the flags given on
 * the command line; then validates them.
 *
 * @param values parsed flags (from `parseCommand(TRAIN_FLAGS, argv)`)
 * @param configFile JSON config path; defaults to `values.config`
 * @param given names of the flags typed on the command line (`parseCommand`'s `given`); when
 *   absent, every flag whose value differs from its default counts as given
 * @returns the validated settings
 * @throws {UsageError} (one line) for an unreadable or malformed file, an unknown key, or a bad
 *   value
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "../cli/args.ts";
 * import { TRAIN_FLAGS, trainConfigFromFlags } from "./config.ts";
 *
 * const { values, given } = parseCommand(TRAIN_FLAGS, ["--batch-size=8", "--max-iters", "100"]);
 * const cfg = trainConfigFromFlags(values, undefined, given);
 * assert.equal(cfg.batch_size, 8);
 * assert.equal(cfg.learning_rate, 5e-4); // train.py's default
 * ```
 */
export function trainConfigFromFlags(
  values: FlagValues,
  configFile?: string,
  given?: ReadonlySet<string>,
): TrainConfig {
  const cfg: Record<string, unknown> = { ...TRAIN_DEFAULTS };
  const file = configFile ?? (typeof values.config === "string" ? values.config : undefined);
  if (file !== undefined) Object.assign(cfg, readTrainConfigFile(file));
  const explicit = given;
  for (const k of Object.keys(TRAIN_DEFAULTS) as (keyof TrainConfig)[]) {
    const name = _kebab(k);
    const v = values[name];
    if (v === undefined) continue;
    const isGiven = explicit ? explicit.has(name) : v !== TRAIN_DEFAULTS[k];
    if (isGiven || file === undefined) cfg[k] = coerceFlag(name, TRAIN_FLAGS[name], v);
  }
  return validateTrainConfig(cfg);
}

/**
 * Reads a JSON config file: an object whose keys are {@link TrainConfig} fields in snake_case
 * or kebab-case. Values are checked against the field's type (numbers may be numeric strings).
 *
 * @returns the fields the file sets, by snake_case name
 * @throws {UsageError} when the file cannot be read, is not a JSON object, or has an unknown key
 *   or a value of the wrong type
 */
export function readTrainConfigFile(path: string): Partial<TrainConfig> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new UsageError(`Cannot read config file ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `Cannot parse config file ${path}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new UsageError(`Cannot use config file ${path}: it must hold a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of Object.entries(obj)) {
    const k = _snake(rawKey);
    if (!(k in TRAIN_DEFAULTS)) {
      throw new UsageError(`Cannot use config file ${path}: unknown key "${rawKey}"`);
    }
    try {
      out[k] = coerceFlag(_kebab(k), TRAIN_FLAGS[_kebab(k)], v);
    } catch (e) {
      throw new UsageError(`Cannot use config file ${path}: ${(e as Error).message}`);
    }
  }
  return out as Partial<TrainConfig>;
}

/**
 * Checks a full set of settings and returns it typed.
 *
 * @throws {UsageError} naming the first bad value
 */
export function validateTrainConfig(raw: Record<string, unknown>): TrainConfig {
  const c = raw as unknown as TrainConfig;
  const bad = (msg: string): never => {
    throw new UsageError(`Cannot use training settings: ${msg}`);
  };
  for (const k of Object.keys(TRAIN_DEFAULTS) as (keyof TrainConfig)[]) {
    const want = typeof TRAIN_DEFAULTS[k];
    const got = typeof c[k];
    if (got !== want) bad(`${k} must be a ${want}, got ${JSON.stringify(c[k])}`);
  }
  for (const k of Object.keys(raw)) if (!(k in TRAIN_DEFAULTS)) bad(`unknown setting ${k}`);
  const positive = [
    "batch_size",
    "max_seq_len",
    "vocab_size",
    "dim",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "multiple_of",
    "gradient_accumulation_steps",
    "eval_interval",
    "log_interval",
    "eval_iters",
  ] as const;
  for (const k of positive) {
    if (!Number.isSafeInteger(c[k]) || c[k] <= 0) {
      bad(`${k} must be a positive integer, got ${c[k]}`);
    }
  }
  for (const k of ["max_iters", "warmup_iters"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 0) {
      bad(`${k} must be a non-negative integer, got ${c[k]}`);
    }
  }
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff) {
    bad(`seed must be an integer in [0, 4294967295], got ${c.seed}`);
  }
  for (const [k, choices] of Object.entries(_CHOICES)) {
    if (!choices.includes(c[k as keyof TrainConfig] as string)) {
      bad(`${k} must be one of ${choices.join(", ")}, got ${c[k as keyof TrainConfig]}`);
    }
  }
  if (c.vocab_source === "llama2" && c.vocab_size !== 32000) {
    bad(`vocab_source llama2 has 32000 tokens, got vocab_size ${c.vocab_size}`);
  }
  for (const k of ["learning_rate", "weight_decay", "grad_clip"] as const) {
    if (!(c[k] >= 0 && Number.isFinite(c[k]))) bad(`${k} must be >= 0, got ${c[k]}`);
  }
  for (const k of ["beta1", "beta2", "dropout"] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) bad(`${k} must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.peak_flops > 0 && Number.isFinite(c.peak_flops))) {
    bad(`peak_flops must be a positive number, got ${c.peak_flops}`);
  }
  if (c.out_dir === "") bad("out_dir must not be empty");
  if (c.data_dir === "") bad("data_dir must not be empty");
  try {
    modelConfigFromTrain(c);
  } catch (e) {
    bad((e as Error).message.replace(/^Cannot use model config: /, ""));
  }
  return { ...c };
}

/**
 * Checks the settings a checkpoint saved (for `loadCheckpoint`): settings added to babyllama after
 * the checkpoint was written (such as `on_nan`) take their defaults, then
 * {@link validateTrainConfig} checks the whole.
 *
 * @throws {UsageError} naming the first bad value
 * @example
 * ```ts
 * import { resumedTrainConfig, TRAIN_DEFAULTS } from "./config.ts";
 *
 * const { on_nan: _, ...old } = TRAIN_DEFAULTS; // written before on_nan existed
 * resumedTrainConfig(old).on_nan; // "stop"
 * ```
 */
export function resumedTrainConfig(raw: Record<string, unknown>): TrainConfig {
  return validateTrainConfig({ ...TRAIN_DEFAULTS, ...raw });
}

/**
 * The model shape the settings describe (llama2.c's `model_args`): tied classifier, hidden size
 * derived from dim and multiple_of.
 *
 * @throws {RangeError} for an impossible shape
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfigFromTrain, TRAIN_DEFAULTS } from "./config.ts";
 *
 * assert.equal(modelConfigFromTrain(TRAIN_DEFAULTS).hidden_dim, 768);
 * ```
 */
export function modelConfigFromTrain(c: Readonly<TrainConfig>): ModelConfig {
  return modelConfig({
    dim: c.dim,
    n_layers: c.n_layers,
    n_heads: c.n_heads,
    n_kv_heads: c.n_kv_heads,
    vocab_size: c.vocab_size,
    multiple_of: c.multiple_of,
    max_seq_len: c.max_seq_len,
    dropout: c.dropout,
  });
}

/** Tokens per optimizer step: gradient_accumulation_steps * batch_size * max_seq_len. */
export function tokensPerIter(c: Readonly<TrainConfig>): number {
  return c.gradient_accumulation_steps * c.batch_size * c.max_seq_len;
}
