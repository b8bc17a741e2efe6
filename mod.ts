/**
 * babyllama: train Karpathy's Baby Llama 2 (llama2.c's architecture) on TinyStories with
 * WebGPU, every forward and backward op a WGSL compute shader. This module re-exports the public
 * API; the `main.ts` CLI is built on it.
 *
 * @example Evaluate a llama2.c checkpoint on a token file
 * ```ts
 * import { acquireGpu, evaluateTokens, readLlama2cFile, tokensFromBytes } from "./mod.ts";
 *
 * using gpu = await acquireGpu();
 * const ckpt = await readLlama2cFile("stories260K.bin");
 * const tokens = tokensFromBytes(await Deno.readFile("tokens.bin"));
 * const { loss } = await evaluateTokens(gpu, ckpt.config, ckpt.params, tokens, 64, 8);
 * ```
 *
 * @example One training step of a fresh model
 * ```ts
 * import { acquireGpu, Model, modelConfig } from "./mod.ts";
 *
 * using gpu = await acquireGpu();
 * const config = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, vocab_size: 512 });
 * using model = new Model(gpu, config, { B: 4, T: 64, training: true });
 * model.initParams(1337);
 * const x = Array.from({ length: 4 * 64 }, (_, i) => (7 * i) % 512); // B*T input ids
 * const y = x.map((id) => (id + 1) % 512); // and their targets
 * model.setBatch(x, y);
 * model.trainPlan.submit();
 * console.log(await model.readLoss()); // about ln(512) = 6.24 for a fresh model
 * ```
 *
 * @module
 */

// GPU layer
export {
  acquireGpu,
  type AdapterInfo,
  adapterInfo,
  adapterName,
  FallbackAdapterError,
  Gpu,
  type GpuOptions,
  type GpuRequest,
  isCpuAdapter,
  NoAdapterError,
  WANTED_FEATURES,
  WANTED_LIMITS,
  type WantedFeature,
  type WantedLimit,
} from "./src/gpu/device.ts";
export { type BindingInfo, defineKernel, type Kernel, type ParamField } from "./src/gpu/kernel.ts";
export {
  type DispatchHandle,
  type DispatchTiming,
  grid,
  type ParamValues,
  Plan,
} from "./src/gpu/plan.ts";
export {
  type DispatchTime,
  formatProfile,
  type KernelTime,
  PassTimer,
  type PlanProfile,
  type ProfileOptions,
  profilePlans,
} from "./src/gpu/profile.ts";
export { type CachedPipeline, type Constants, type PipelineCache } from "./src/gpu/pipeline.ts";
export {
  adapterKey,
  defaultTuneCachePath,
  formatTuneTable,
  hashText,
  readTuneCache,
  SHIPPED_TUNING,
  shippedAdapterKey,
  TUNE_MODES,
  TUNE_TOLERANCE,
  tuneAdapterInfo,
  type TuneCacheFile,
  type TuneCacheInfo,
  tuneCacheInfo,
  type TuneCachePath,
  tuneCachePath,
  type TuneCase,
  type TuneEntry,
  type TuneFamily,
  tuneInput,
  type TuneMode,
  type TunePick,
  Tuner,
  type TunerConfig,
  type TuneResult,
  tunerFor,
  type TuneTimer,
} from "./src/gpu/tune.ts";
export {
  type BufferBinding,
  BufferPool,
  readBuffer,
  readF32,
  writeBuffer,
} from "./src/gpu/buffers.ts";

// Model
export { defaultHiddenDim, type ModelConfig, modelConfig } from "./src/model/config.ts";
export {
  firstNonFinite,
  type FusedName,
  type NonFinite,
  type TensorEntry,
  type TensorName,
  type TensorTable,
  tensorTable,
} from "./src/model/tensors.ts";
export { initParams } from "./src/model/init.ts";
export { type Fusion, Model, type ModelDispatches, type ModelShape } from "./src/model/model.ts";
export { type EvalResult, evaluateTokens, tokensFromBytes } from "./src/model/evaluate.ts";
export {
  type DecodeVariant,
  decodeVariant,
  decodeVariants,
  type GenerateRequest,
  Generator,
  type GeneratorOptions,
} from "./src/model/generate.ts";

// Training
export { train, type TrainOptions, type TrainResult } from "./src/train/trainer.ts";
export {
  TRAIN_DEFAULTS,
  TRAIN_FLAGS,
  type TrainConfig,
  trainConfigFromFlags,
} from "./src/train/config.ts";
export { type FlagSpec, type FlagSpecs, type FlagValues } from "./src/util/flags.ts";
export { estimateMfu, getLr, type LrSettings } from "./src/train/schedule.ts";
export { AdamW, type AdamWConfig } from "./src/train/optimizer.ts";
export { type StepStatus } from "./src/ops/adamw.ts";
export {
  type BatchBuffers,
  type DatasetRngState,
  PretokDataset,
  type Split,
} from "./src/data/dataset.ts";

// Data-parallel training (Open MPI)
export {
  agreeOnError,
  broadcastString,
  type CollectiveBuffer,
  CollectiveError,
  type Communicator,
  SingleProcess,
} from "./src/dist/comm.ts";
export { detectLauncher, openCommunicator, type OpenOptions } from "./src/dist/open.ts";
export { OpenMpi, type OpenMpiOptions } from "./src/dist/mpi.ts";
export { DataParallel, type ReduceTimings } from "./src/train/ddp.ts";

// Data
export { type EncodeOptions, Tokenizer } from "./src/data/tokenizer.ts";
export {
  encodeTokenizerBin,
  packTokenizerBin,
  readTokenizerBin,
  tokenBinBytes,
} from "./src/data/tokenizer_bin.ts";
export {
  encodeModelProto,
  type ModelProto,
  ModelType,
  type NormalizerSpec,
  parseModelProto,
  PieceType,
  type SelfTestData,
  type SelfTestSample,
  type SentencePiece,
  type TrainerSpec,
} from "./src/data/sentencepiece_model.ts";
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadTinyStories,
  TINYSTORIES_URL,
} from "./src/data/download.ts";
export { type TarEvent, type TarHeader, UntarStream } from "./src/data/untar.ts";
export { JsonArrayStream } from "./src/data/json_stream.ts";
export {
  pretokenize,
  type PretokenizeOptions,
  type PretokenizeResult,
  type ShardStats,
} from "./src/data/pretokenize.ts";
export { BpeTrainer, type BpeTrainerOptions, type BpeVocab } from "./src/data/bpe_trainer.ts";
export {
  type BpeModelInfo,
  bpeModelProto,
  trainVocab,
  type TrainVocabOptions,
  type TrainVocabProgress,
  type TrainVocabResult,
} from "./src/data/train_vocab.ts";

// Files
export {
  encodeLlama2cV0,
  encodeLlama2cV1,
  encodeLlama2cV2,
  type Llama2cCheckpoint,
  readLlama2c,
  readLlama2cFile,
  readLlama2cV2,
} from "./src/io/llama2c.ts";
export {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsFile,
  type SafeDtype,
  type SafeTensor,
  type SafeTensorInput,
  type SafetensorsFile,
} from "./src/io/safetensors.ts";
export {
  type CheckpointRngState,
  type CheckpointState,
  loadCheckpoint,
  type LoadedCheckpoint,
  type LoadOptions,
  saveCheckpoint,
  type SaveOptions,
  type SaveResult,
} from "./src/io/checkpoint.ts";
export { type LockInfo, type LockOptions, lockOutDir, type OutDirLock } from "./src/io/lock.ts";
export { type HfExportOptions, writeHfModel } from "./src/io/hf.ts";
