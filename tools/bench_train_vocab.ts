/**
 * Benchmarks and helpers for `train-vocab` (used by tools/train_vocab_compare.py):
 *
 *   deno run -A tools/bench_train_vocab.ts text FILE N
 *     trains N pieces on a text file (one sentence per line, as sentencepiece reads it) and
 *     prints the seconds spent reading/counting and merging, as JSON
 *   deno run -A tools/bench_train_vocab.ts shards DATA_DIR N [K]
 *     the same through `trainVocab` on the first K shards (writes DATA_DIR/tok{N}.model/.bin)
 *   deno run -A tools/bench_train_vocab.ts encode MODEL TEXTS.json
 *     encodes each string of a JSON array with our Tokenizer (no BOS), prints the ids as JSON
 *
 * @module
 */
import { BpeTrainer } from "../src/data/bpe_trainer.ts";
import { trainVocab } from "../src/data/train_vocab.ts";
import { Tokenizer } from "../src/data/tokenizer.ts";

const [mode, ...rest] = Deno.args;
if (mode === "text") {
  const [file, n] = rest;
  const t0 = performance.now();
  const trainer = new BpeTrainer({ vocabSize: Number(n) });
  trainer.addText(await Deno.readTextFile(file));
  const t1 = performance.now();
  const v = trainer.train();
  const t2 = performance.now();
  console.log(JSON.stringify({
    readSeconds: (t1 - t0) / 1000,
    trainSeconds: (t2 - t1) / 1000,
    sentences: v.numSentences,
    words: v.numWords,
    merges: v.numMerges,
    chars: v.numChars,
  }));
} else if (mode === "shards") {
  const [dataDir, n, k] = rest;
  const r = await trainVocab({ vocabSize: Number(n), dataDir, numShards: Number(k ?? 10) });
  console.log(JSON.stringify({
    readSeconds: r.readSeconds,
    trainSeconds: r.trainSeconds,
    stories: r.stories,
    textBytes: r.textBytes,
    modelPath: r.modelPath,
  }));
} else if (mode === "encode") {
  const [model, texts] = rest;
  const tok = Tokenizer.fromModelProto(await Deno.readFile(model));
  const list: string[] = JSON.parse(await Deno.readTextFile(texts));
  console.log(JSON.stringify(list.map((s) => tok.encode(s, { bos: false }))));
} else {
  console.error(
    "usage: bench_train_vocab.ts text FILE N | shards DATA_DIR N [K] | encode MODEL TEXTS.json",
  );
  Deno.exit(2);
}
