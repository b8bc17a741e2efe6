/**
 * `train-vocab`: learn a SentencePiece BPE vocabulary from TinyStories shards, as llama2.c's
 * `python tinystories.py train_vocab --vocab_size=N` does, writing `DATA_DIR/tok{N}.model` and
 * `DATA_DIR/tok{N}.bin`.
 *
 * @module
 */
import { type Command, UsageError } from "./args.ts";
import { trainVocab } from "../data/train_vocab.ts";

/** The `train-vocab` subcommand. */
export const trainVocabCommand: Command = {
  name: "train-vocab",
  summary: "learn a SentencePiece BPE vocabulary (tok{N}.model, tok{N}.bin) from the stories",
  usage: "--vocab-size N [--data-dir data] [--num-shards 10]",
  flags: {
    "vocab-size": {
      type: "number",
      required: true,
      help: "pieces in the vocabulary, <unk> <s> </s> and 256 byte pieces included (260..65536)",
    },
    "data-dir": {
      type: "string",
      default: "data",
      help: "reads DATA_DIR/TinyStories_all_data/*.json, writes DATA_DIR/tok{N}.model and .bin",
    },
    "num-shards": { type: "number", default: 10, help: "use the first K shards (sorted by name)" },
  },
  async run(values) {
    const vocabSize = values["vocab-size"] as number;
    if (!Number.isInteger(vocabSize) || vocabSize < 260 || vocabSize > 65536) {
      throw new UsageError(`--vocab-size must be an integer in 260..65536, got ${vocabSize}`);
    }
    const numShards = values["num-shards"] as number;
    if (!Number.isInteger(numShards) || numShards < 1) {
      throw new UsageError(`--num-shards must be an integer >= 1, got ${numShards}`);
    }
    const tty = Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    const r = await trainVocab({
      vocabSize,
      dataDir: values["data-dir"] as string,
      numShards,
      onProgress: tty
        ? (p) => {
          const msg = p.phase === "read"
            ? `read shard ${p.shards}/${p.totalShards}, ${p.stories} stories`
            : `merges ${p.merges}/${p.totalMerges}`;
          Deno.stderr.writeSync(enc.encode(`\r\x1b[K${msg}`));
        }
        : undefined,
    }).finally(() => tty && Deno.stderr.writeSync(enc.encode("\r\x1b[K")));
    const v = r.vocab;
    console.log(
      `${r.shards.length} shards, ${r.stories} stories (${(r.textBytes / 1e6).toFixed(1)} MB), ` +
        `${v.numSentences} sentences, ${v.numWords} distinct words: read in ` +
        `${r.readSeconds.toFixed(2)} s, ${v.numMerges} merges + ${v.numChars} characters ` +
        `learned in ${r.trainSeconds.toFixed(2)} s`,
    );
    console.log(`wrote ${r.modelPath} and ${r.binPath} (${v.pieces.length} pieces)`);
  },
};
