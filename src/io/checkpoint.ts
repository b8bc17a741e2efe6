/**
 * Training checkpoints: everything a run needs to resume exactly, in two files plus the model
 * in llama2.c's format:
 *
 * - `out_dir/ckpt-<generation>.safetensors`: float32 tensors, unpadded, readable by any
 *   safetensors reader: the parameters as `model.<name>` (per-layer tensors one per layer, e.g.
 *   `model.layers.3.wq` of shape [C, C]; `model.tok_embeddings`, `model.rms_final`, and
 *   `model.wcls` when the classifier is not tied), and AdamW's moments under the same names
 *   with `adam_m.` and `adam_v.` in place of `model.`.
 * - `out_dir/ckpt.json`: format version, model config, training settings, step, best val loss,
 *   the batch sampler's generator state, and the name, size and SHA-256 of the tensors file.
 * - `out_dir/model.bin`: llama2.c legacy v0 (as train.py's `model_export(..., version=0)`).
 *
 * A crash at any instant of a save leaves a complete, resumable pair: each save writes its
 * tensors under a new generation name (never over the file the current ckpt.json names), then
 * renames ckpt.json into place (the one switch from the previous pair to the new one), then
 * model.bin, and only then removes the previous generation's tensors. Every file is written to a
 * temporary file, fsynced and renamed, and the directory is fsynced after each switch. Loading
 * checks the tensors against the size and hash ckpt.json records. Out dirs written before
 * generations (`ckpt.safetensors` + `ckpt.json`) load as they are; their next save moves them to
 * generation names. Non-finite weights are never saved and never loaded.
 *
 * The checkpoint takes plain data: the run's settings are any JSON object (the trainer stores
 * its `TrainConfig` and passes `validateTrainConfig` to {@link loadCheckpoint} to check them),
 * and the sampler state is the generators' four-word states.
 *
 * @module
 */
import { join } from "node:path";
import { type ModelConfig, modelConfig } from "../model/config.ts";
import {
  firstNonFinite,
  type TensorEntry,
  type TensorTable,
  tensorTable,
} from "../model/tensors.ts";
import { Xoshiro128 } from "../util/rng.ts";
import { encodeLlama2cV0, writeLlama2cFile } from "./llama2c.ts";
import { encodeSafetensors, readSafetensors, type SafeTensorInput } from "./safetensors.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import {
  LEGACY_TENSORS_FILE,
  nextGeneration,
  removeStaleCheckpointFiles,
  tensorsFileGeneration,
  tensorsFileName,
} from "./ckpt_files.ts";

/** `format` field of ckpt.json. */
export const CHECKPOINT_FORMAT = "babyllama-checkpoint";
/** `version` field of ckpt.json this code writes and reads. */
export const CHECKPOINT_VERSION = 1;
/**
 * File names inside out_dir. The tensors file of a save is `ckpt-<generation>.safetensors`
 * ({@link tensorsFileName}); `tensors` is the name out dirs written before generations use.
 */
export const CHECKPOINT_FILES = {
  tensors: LEGACY_TENSORS_FILE,
  json: "ckpt.json",
  modelBin: "model.bin",
} as const;

/** The batch sampler's generator states (`Xoshiro128.state()` of each split). */
export interface CheckpointRngState {
  /** State of the training split's generator: four uint32 numbers. */
  train: number[];
  /** State of the validation split's generator: four uint32 numbers. */
  val: number[];
}

/**
 * Everything saved in a checkpoint. Flat arrays use the {@link tensorTable} layout.
 *
 * @typeParam T the run's settings, saved as JSON (the trainer's `TrainConfig`)
 */
export interface CheckpointState<T extends object = Record<string, unknown>> {
  /** The model's shape. */
  config: ModelConfig;
  /** The run's settings (a JSON object). */
  trainConfig: T;
  /** Optimizer steps done (train.py's iter_num). */
  iter: number;
  /** Best validation loss so far (Infinity before the first eval). */
  bestValLoss: number;
  /** The batch sampler's generator state. */
  rngState: CheckpointRngState;
  /** Parameters, flat. */
  params: Float32Array;
  /** AdamW first moment, flat. */
  adamM: Float32Array;
  /** AdamW second moment, flat. */
  adamV: Float32Array;
}

/** What {@link loadCheckpoint} returns: the state with arrays it owns. */
export interface LoadedCheckpoint<T extends object = Record<string, unknown>>
  extends CheckpointState<T> {
  /** The tensors file ckpt.json names (`ckpt-000003.safetensors`, or `ckpt.safetensors`). */
  tensorsFile: string;
  /** Its generation (0 for `ckpt.safetensors`). */
  generation: number;
  /** Parameters, flat (padding zero). */
  params: Float32Array<ArrayBuffer>;
  /** AdamW first moment, flat. */
  adamM: Float32Array<ArrayBuffer>;
  /** AdamW second moment, flat. */
  adamV: Float32Array<ArrayBuffer>;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveOptions {
  /** Also write `model.bin` (llama2.c v0), as train.py does (default true). */
  modelBin?: boolean;
}

/** What {@link saveCheckpoint} wrote. */
export interface SaveResult {
  /** The new tensors file. */
  tensorsFile: string;
  /** Its generation. */
  generation: number;
  /** Files of earlier generations (and dead temporary files) removed after the switch. */
  removed: string[];
}

/** Options of {@link loadCheckpoint}. */
export interface LoadOptions<T extends object> {
  /**
   * Checks and types the saved settings (the trainer passes `validateTrainConfig`); what it
   * throws becomes the one-line `train_config: ...` error. Without it any JSON object is taken.
   */
  trainConfig?: (raw: Record<string, unknown>) => T;
}

/** The three tensor groups and their name prefixes. */
const _GROUPS = [["params", "model"], ["adamM", "adam_m"], ["adamV", "adam_v"]] as const;

/**
 * The safetensors names of one tensor-table entry: one name per layer for per-layer tensors
 * (`layers.3.wq`), the bare name otherwise (`tok_embeddings`), without the group prefix.
 */
export function checkpointTensorNames(e: TensorEntry): string[] {
  if (e.name === "tok_embeddings" || e.name === "rms_final" || e.name === "wcls") return [e.name];
  return Array.from({ length: e.layers }, (_, l) => `layers.${l}.${e.name}`);
}

function _checkArrays(table: TensorTable, s: CheckpointState<object>): void {
  for (const [key] of _GROUPS) {
    const a = s[key];
    if (!(a instanceof Float32Array) || a.length !== table.size) {
      throw new TypeError(
        `Cannot save checkpoint: ${key} must be a Float32Array of ${table.size} floats (the ` +
          `tensor table's size), got ${a instanceof Float32Array ? a.length : typeof a}`,
      );
    }
  }
}

async function _sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function _syncDir(dir: string): Promise<void> {
  try {
    const f = await Deno.open(dir, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  } catch {
    // not supported on this platform: the renames are still atomic
  }
}

/**
 * Encodes the tensors of a checkpoint as safetensors bytes (views of the flat arrays, unpadded).
 *
 * @throws {TypeError} when an array does not have the tensor table's size
 */
export function encodeCheckpointTensors(s: CheckpointState<object>): Uint8Array<ArrayBuffer> {
  const table = tensorTable(s.config);
  _checkArrays(table, s);
  const tensors: Record<string, SafeTensorInput> = {};
  for (const [key, prefix] of _GROUPS) {
    const flat = s[key];
    for (const e of table.entries) {
      checkpointTensorNames(e).forEach((name, l) => {
        const off = e.offset + l * e.layerStride;
        tensors[`${prefix}.${name}`] = {
          dtype: "F32",
          shape: e.shape,
          data: flat.subarray(off, off + e.layerNumel),
        };
      });
    }
  }
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, iter: String(s.iter) });
}

/**
 * Saves a checkpoint to `outDir` (created if needed) so that a crash at any instant leaves
 * either the previous complete checkpoint or the new one: the tensors under a new generation
 * name, then ckpt.json (the switch), then model.bin, each atomically (temp file, fsync, rename,
 * directory fsync); then the previous generation's tensors are removed.
 *
 * @returns the new tensors file, its generation and the files removed
 * @throws {TypeError} when an array does not match the config's tensor table
 * @throws {RangeError} when a parameter or moment is NaN or infinite (nothing is written)
 * @example
 * ```ts
 * import { modelConfig } from "../model/config.ts";
 * import { tensorTable } from "../model/tensors.ts";
 * import { saveCheckpoint } from "./checkpoint.ts";
 *
 * const config = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, vocab_size: 512 });
 * const n = tensorTable(config).size;
 * const [params, adamM, adamV] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
 * const rngState = { train: [1, 2, 3, 4], val: [5, 6, 7, 8] }; // PretokDataset.rngState()
 * await saveCheckpoint("out", {
 *   config,
 *   trainConfig: { batch_size: 8 }, // the run's settings: any JSON object
 *   iter: 2000,
 *   bestValLoss: 2.1,
 *   rngState,
 *   params,
 *   adamM,
 *   adamV,
 * });
 * ```
 */
export async function saveCheckpoint(
  outDir: string,
  s: CheckpointState<object>,
  opts: SaveOptions = {},
): Promise<SaveResult> {
  if (!Number.isSafeInteger(s.iter) || s.iter < 0) {
    throw new RangeError(`Cannot save checkpoint: iter must be an integer >= 0, got ${s.iter}`);
  }
  const bytes = encodeCheckpointTensors(s);
  const table = tensorTable(s.config);
  for (const [key, prefix] of _GROUPS) {
    const bad = firstNonFinite(table, s[key]);
    if (bad) {
      throw new RangeError(
        `Cannot save checkpoint at iter ${s.iter}: tensor ${prefix}.${bad.tensor} holds ` +
          `${bad.value} at element ${bad.index}; the checkpoint in ${outDir} is left as it was`,
      );
    }
  }
  await Deno.mkdir(outDir, { recursive: true });
  const generation = await nextGeneration(outDir);
  const tensorsFile = tensorsFileName(generation);
  const json = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    generation,
    iter: s.iter,
    best_val_loss: Number.isFinite(s.bestValLoss) ? s.bestValLoss : null,
    model_config: s.config,
    train_config: s.trainConfig,
    rng_state: { train: [...s.rngState.train], val: [...s.rngState.val] },
    tensors: {
      file: tensorsFile,
      bytes: bytes.length,
      sha256: await _sha256(bytes),
    },
    saved_at: new Date().toISOString(),
  };
  await writeFileAtomic(join(outDir, tensorsFile), bytes);
  await _syncDir(outDir);
  // The switch: until this rename lands, ckpt.json names the previous generation's tensors.
  await writeFileAtomic(
    join(outDir, CHECKPOINT_FILES.json),
    new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"),
  );
  await _syncDir(outDir);
  if (opts.modelBin ?? true) {
    await writeLlama2cFile(
      join(outDir, CHECKPOINT_FILES.modelBin),
      encodeLlama2cV0(s.config, s.params),
    );
  }
  const removed = await removeStaleCheckpointFiles(outDir, tensorsFile);
  return { tensorsFile, generation, removed };
}

function _bad(dir: string, what: string): never {
  throw new SyntaxError(`Cannot load checkpoint from ${dir}: ${what}`);
}

function _firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/**
 * Loads and validates a checkpoint saved by {@link saveCheckpoint}.
 *
 * @param outDir the run's directory
 * @param opts `trainConfig`: the validator of the saved settings (default: any JSON object)
 * @throws {Error} when `outDir` has no ckpt.json
 * @throws {SyntaxError} (one line) for a malformed or mismatched checkpoint: unknown format or
 *   version, bad config or settings, a tensors file whose size or SHA-256 differs from what
 *   ckpt.json records (an interrupted save), missing, extra or misshapen tensors
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 *
 * const ckpt = await loadCheckpoint("out"); // the trainer also passes validateTrainConfig
 * console.log(ckpt.iter, ckpt.bestValLoss, ckpt.trainConfig);
 * ```
 */
export async function loadCheckpoint<T extends object = Record<string, unknown>>(
  outDir: string,
  opts: LoadOptions<T> = {},
): Promise<LoadedCheckpoint<T>> {
  const jsonPath = join(outDir, CHECKPOINT_FILES.json);
  let text: string;
  try {
    text = await Deno.readTextFile(jsonPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot load checkpoint: ${jsonPath} does not exist (train with --init-from scratch first)`,
      );
    }
    throw e;
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch (e) {
    _bad(outDir, `${CHECKPOINT_FILES.json} is not valid JSON (${_firstLine(e)})`);
  }
  if (j === null || typeof j !== "object" || j.format !== CHECKPOINT_FORMAT) {
    _bad(outDir, `${CHECKPOINT_FILES.json} is not a ${CHECKPOINT_FORMAT} file`);
  }
  if (j.version !== CHECKPOINT_VERSION) {
    _bad(outDir, `format version ${j.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  }
  if (!Number.isSafeInteger(j.iter) || (j.iter as number) < 0) {
    _bad(outDir, `iter ${JSON.stringify(j.iter)} is not an integer >= 0`);
  }
  const iter = j.iter as number;
  const bvl = j.best_val_loss;
  if (bvl !== null && typeof bvl !== "number") {
    _bad(outDir, `best_val_loss ${JSON.stringify(bvl)} is not a number`);
  }
  let config: ModelConfig, trainConfig: T;
  try {
    config = modelConfig(j.model_config as Partial<ModelConfig>);
  } catch (e) {
    _bad(outDir, `model_config: ${_firstLine(e)}`);
  }
  const tc = j.train_config;
  if (tc === null || typeof tc !== "object" || Array.isArray(tc)) {
    _bad(outDir, `train_config: ${JSON.stringify(tc)} is not a JSON object`);
  }
  try {
    const raw = tc as Record<string, unknown>;
    trainConfig = opts.trainConfig ? opts.trainConfig(raw) : raw as T;
  } catch (e) {
    _bad(outDir, `train_config: ${_firstLine(e)}`);
  }
  const rs = j.rng_state as CheckpointRngState;
  try {
    Xoshiro128.fromState(rs?.train);
    Xoshiro128.fromState(rs?.val);
  } catch (e) {
    _bad(outDir, `rng_state: ${_firstLine(e)}`);
  }
  const meta = j.tensors as { file?: unknown; bytes?: unknown; sha256?: unknown } | undefined;
  const tensorsFile = typeof meta?.file === "string" ? meta.file : "";
  const generation = tensorsFileGeneration(tensorsFile);
  if (generation === null || typeof meta?.sha256 !== "string") {
    _bad(outDir, `${CHECKPOINT_FILES.json} does not describe a ckpt-N.safetensors tensors file`);
  }
  const tensorsPath = join(outDir, tensorsFile);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(tensorsPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) _bad(outDir, `${tensorsFile} is missing`);
    throw e;
  }
  if (bytes.length !== meta.bytes || (await _sha256(bytes)) !== meta.sha256) {
    _bad(
      outDir,
      `${tensorsFile} (${bytes.length} bytes) does not match ${CHECKPOINT_FILES.json}` +
        ` (${meta.bytes} bytes, iter ${iter}); the file was changed or the files were mixed`,
    );
  }
  let file;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    _bad(outDir, _firstLine(e));
  }
  const table = tensorTable(config);
  const out = {
    params: new Float32Array(table.size),
    adamM: new Float32Array(table.size),
    adamV: new Float32Array(table.size),
  };
  const expected = new Set<string>();
  for (const [key, prefix] of _GROUPS) {
    for (const e of table.entries) {
      checkpointTensorNames(e).forEach((name, l) => {
        const full = `${prefix}.${name}`;
        expected.add(full);
        const t = file.tensors.get(full);
        if (!t) _bad(outDir, `tensor ${full} is missing`);
        if (t.dtype !== "F32" || JSON.stringify(t.shape) !== JSON.stringify(e.shape)) {
          _bad(
            outDir,
            `tensor ${full} is ${t.dtype} ${JSON.stringify(t.shape)}, expected F32 ${
              JSON.stringify(e.shape)
            }`,
          );
        }
        const dst = new Uint8Array(
          out[key].buffer,
          4 * (e.offset + l * e.layerStride),
          4 * e.layerNumel,
        );
        dst.set(t.data);
      });
    }
  }
  for (const name of file.tensors.keys()) {
    if (!expected.has(name)) _bad(outDir, `unexpected tensor ${name} for this model config`);
  }
  for (const [key, prefix] of _GROUPS) {
    const bad = firstNonFinite(table, out[key]);
    if (bad) {
      _bad(
        outDir,
        `tensor ${prefix}.${bad.tensor} holds ${bad.value} at element ${bad.index} (iter ${iter}); ` +
          "a diverged run saved it: use an earlier checkpoint",
      );
    }
  }
  return {
    tensorsFile,
    generation,
    config,
    trainConfig,
    iter,
    bestValLoss: bvl === null ? Infinity : bvl as number,
    rngState: { train: [...rs.train], val: [...rs.val] },
    ...out,
  };
}
