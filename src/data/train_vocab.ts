/**
 * llama2.c's `train_vocab` on TinyStories shards: reads the stories, learns a vocabulary with
 * {@link BpeTrainer} (src/data/bpe_trainer.ts), and writes it as SentencePiece's `.model`
 * ({@link bpeModelProto}: the ModelProto SentencePiece would write with llama2.c's settings) and
 * llama2.c's `tokenizer.bin`.
 *
 * @example
 * ```ts
 * import { trainVocab } from "./train_vocab.ts";
 *
 * const r = await trainVocab({ vocabSize: 4096, dataDir: "data", numShards: 10 });
 * console.log(r.modelPath); // data/tok4096.model
 * ```
 *
 * @module
 */
import { basename, join } from "node:path";
import { writeFileAtomic } from "../util/atomic.ts";
import { BpeTrainer, type BpeVocab, utf8Length } from "./bpe_trainer.ts";
import { TINYSTORIES_DIR } from "./download.ts";
import { JsonArrayStream, JsonArraySyntaxError } from "./json_stream.ts";
import { pyStrip } from "./pretokenize.ts";
import {
  encodeModelProto,
  type ModelProto,
  ModelType,
  type TrainerSpec,
} from "./sentencepiece_model.ts";
import { Tokenizer } from "./tokenizer.ts";

/** Fields of the trainer spec that describe the run rather than the vocabulary. */
export interface BpeModelInfo {
  /** Corpus files, as SentencePiece's `input` (default none). */
  input?: string[];
  /** Output prefix, as SentencePiece's `model_prefix` (e.g. `data/tok4096`). */
  modelPrefix?: string;
  /** Trainer threads recorded in the spec (default `navigator.hardwareConcurrency`). */
  numThreads?: number;
}

/**
 * The `.model` contents SentencePiece would write for this vocabulary with llama2.c's
 * `train_vocab` settings: the pieces, a BPE trainer spec (`vocab_size`, `byte_fallback`,
 * `split_digits`, `allow_whitespace_only_pieces`, `character_coverage`, `unk_surface`, ...) and
 * the `identity` normalizer spec (dummy prefix, whitespace handling as trained).
 *
 * @param vocab what {@link BpeTrainer.train} returned
 * @param info file names and thread count to record
 * @returns a model ready for `encodeModelProto`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpeTrainer } from "./bpe_trainer.ts";
 * import { encodeModelProto, parseModelProto } from "./sentencepiece_model.ts";
 * import { bpeModelProto } from "./train_vocab.ts";
 *
 * const trainer = new BpeTrainer({ vocabSize: 280 });
 * trainer.addText("Once upon a time, there was a cat.\nThe cat was happy.");
 * const vocab = trainer.train();
 * const bytes = encodeModelProto(bpeModelProto(vocab, { modelPrefix: "data/tok280" }));
 * assert.equal(parseModelProto(bytes).pieces.length, 280);
 * ```
 */
export function bpeModelProto(vocab: BpeVocab, info: BpeModelInfo = {}): ModelProto {
  const o = vocab.options;
  const trainerSpec: TrainerSpec = {
    input: info.input ?? [],
    modelType: ModelType.BPE,
    vocabSize: o.vocabSize,
    selfTestSampleSize: 0,
    inputFormat: "text",
    characterCoverage: o.characterCoverage,
    numThreads: info.numThreads ?? navigator.hardwareConcurrency ?? 1,
    maxSentenceLength: o.maxSentenceLength,
    maxSentencepieceLength: o.maxPieceLength,
    splitByUnicodeScript: o.splitByUnicodeScript,
    splitDigits: o.splitDigits,
    allowWhitespaceOnlyPieces: o.allowWhitespaceOnlyPieces,
    byteFallback: o.byteFallback,
    unkSurface: " \\342\\201\\207 ",
  };
  if (info.modelPrefix !== undefined) trainerSpec.modelPrefix = info.modelPrefix;
  return {
    pieces: vocab.pieces.map((p) => ({ ...p })),
    trainerSpec,
    normalizerSpec: {
      name: "identity",
      precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: o.addDummyPrefix,
      removeExtraWhitespaces: o.removeExtraWhitespaces,
      escapeWhitespaces: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Training from TinyStories shards (llama2.c's `train_vocab`)

/** Options of {@link trainVocab}. */
export interface TrainVocabOptions {
  /** Vocabulary size N; writes `tok{N}.model` and `tok{N}.bin`. */
  vocabSize: number;
  /** Data directory holding `TinyStories_all_data/` (default `data`). */
  dataDir?: string;
  /** Use the first this many shards, sorted by name (default 10, as llama2.c). */
  numShards?: number;
  /** Called after each shard is read and every 100 merges. */
  onProgress?: (p: TrainVocabProgress) => void;
}

/** Progress of {@link trainVocab}. */
export interface TrainVocabProgress {
  /** `read` while counting words, `merge` while learning merges. */
  phase: "read" | "merge";
  /** Shards read so far. */
  shards: number;
  /** Shards to read. */
  totalShards: number;
  /** Stories read so far. */
  stories: number;
  /** Merges learned so far (merge phase). */
  merges: number;
  /** Merges to learn (merge phase). */
  totalMerges: number;
}

/** What {@link trainVocab} did. */
export interface TrainVocabResult {
  /** The `.model` written. */
  modelPath: string;
  /** The llama2.c `.bin` written. */
  binPath: string;
  /** The shards read. */
  shards: string[];
  /** Stories read. */
  stories: number;
  /** UTF-8 bytes of story text (stripped, newline-terminated, as llama2.c writes it). */
  textBytes: number;
  /** The vocabulary. */
  vocab: BpeVocab;
  /** The model as written. */
  model: ModelProto;
  /** Seconds spent reading and counting words. */
  readSeconds: number;
  /** Seconds spent learning merges. */
  trainSeconds: number;
}

/**
 * llama2.c's `train_vocab`: reads the `story` of every example in the first `numShards` shards
 * `DATA_DIR/TinyStories_all_data/*.json` (stripped like Python's `str.strip()`, one story per
 * line as llama2.c writes its text file), learns a BPE vocabulary of `vocabSize` pieces, and
 * writes `DATA_DIR/tok{N}.model` (SentencePiece `ModelProto`) and `DATA_DIR/tok{N}.bin`
 * (llama2.c's tokenizer format), each through a temporary file renamed at the end.
 *
 * @param opts vocabulary size, data directory, shard count, progress callback
 * @returns paths, counts, timings and the vocabulary
 * @throws {Error} when there are no shards
 * @throws {SyntaxError} on a malformed shard
 * @throws {TypeError} when an example has no string `story`
 * @throws {RangeError} when `vocabSize` does not fit the text (too small for its alphabet, or
 *   more pieces than the text can make)
 * @example
 * ```ts
 * import { trainVocab } from "./train_vocab.ts";
 *
 * const r = await trainVocab({ vocabSize: 4096, dataDir: "data", numShards: 10 });
 * console.log(r.modelPath); // data/tok4096.model
 * ```
 */
export async function trainVocab(opts: TrainVocabOptions): Promise<TrainVocabResult> {
  const dataDir = opts.dataDir ?? "data";
  const numShards = opts.numShards ?? 10;
  if (!Number.isInteger(numShards) || numShards < 1) {
    throw new RangeError(`Cannot train vocabulary: numShards must be >= 1, got ${numShards}`);
  }
  const trainer = new BpeTrainer({ vocabSize: opts.vocabSize });
  const dir = join(dataDir, TINYSTORIES_DIR);
  const all: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if ((e.isFile || e.isSymlink) && e.name.endsWith(".json")) all.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (all.length === 0) {
    throw new Error(
      `Cannot train vocabulary: no .json shards in ${dir} ` +
        `(run: deno run -A main.ts download --data-dir ${dataDir})`,
    );
  }
  const shards = all.sort().slice(0, numShards);
  const progress: TrainVocabProgress = {
    phase: "read",
    shards: 0,
    totalShards: shards.length,
    stories: 0,
    merges: 0,
    totalMerges: 0,
  };
  const t0 = performance.now();
  let textBytes = 0;
  for (const path of shards) {
    using file = await Deno.open(path, { read: true });
    let index = 0;
    try {
      for await (const ex of file.readable.pipeThrough(new JsonArrayStream())) {
        const story = ex !== null && typeof ex === "object" && !Array.isArray(ex)
          ? (ex as Record<string, unknown>).story
          : undefined;
        if (typeof story !== "string") {
          throw new TypeError(
            `Cannot train vocabulary: ${basename(path)} example ${index} has no string "story"`,
          );
        }
        const text = pyStrip(story);
        textBytes += utf8Length(text) + 1;
        trainer.addText(text);
        index++;
      }
    } catch (e) {
      if (e instanceof JsonArraySyntaxError) {
        throw new SyntaxError(
          `Cannot train vocabulary: invalid JSON in ${basename(path)} at example ${e.index} ` +
            `(byte ${e.offset}): ${e.detail}`,
        );
      }
      throw e;
    }
    progress.shards++;
    progress.stories += index;
    opts.onProgress?.({ ...progress });
  }
  const t1 = performance.now();
  progress.phase = "merge";
  const vocab = trainer.train((done, total) => {
    progress.merges = done;
    progress.totalMerges = total;
    opts.onProgress?.({ ...progress });
  });
  const t2 = performance.now();

  const prefix = join(dataDir, `tok${opts.vocabSize}`);
  const model = bpeModelProto(vocab, { input: shards, modelPrefix: prefix });
  const modelPath = prefix + ".model", binPath = prefix + ".bin";
  const bin = Tokenizer.fromModelProto(model).toLlama2cBin();
  await writeFileAtomic(modelPath, encodeModelProto(model));
  await writeFileAtomic(binPath, bin);
  return {
    modelPath,
    binPath,
    shards,
    stories: progress.stories,
    textBytes,
    vocab,
    model,
    readSeconds: (t1 - t0) / 1000,
    trainSeconds: (t2 - t1) / 1000,
  };
}
