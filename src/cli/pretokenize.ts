/**
 * `pretokenize`: encode every TinyStories shard to uint16 tokens, llama2.c-compatible.
 *
 * @module
 */
import { type Command, UsageError } from "./args.ts";
import { pretokenize } from "../data/pretokenize.ts";

/** The `pretokenize` subcommand. */
export const pretokenizeCommand: Command = {
  name: "pretokenize",
  summary: "encode DATA_DIR/TinyStories_all_data/*.json to uint16 token files (BOS per story)",
  usage: "[--data-dir data] [--tokenizer PATH] [--vocab-size 0] [--workers K]",
  flags: {
    "data-dir": { type: "string", default: "data", help: "data directory" },
    tokenizer: {
      type: "string",
      help: "SentencePiece model (default: DATA_DIR/tokenizer.model, or DATA_DIR/tok{N}.model)",
    },
    "vocab-size": {
      type: "number",
      default: 0,
      help: "0: Llama 2 vocab, dataNN.bin beside the JSON; N: custom, DATA_DIR/tok{N}/dataNN.bin",
    },
    workers: {
      type: "number",
      help:
        `parallel workers (default: navigator.hardwareConcurrency = ${navigator.hardwareConcurrency})`,
    },
  },
  async run(values) {
    const vocabSize = values["vocab-size"] as number;
    if (!Number.isInteger(vocabSize) || vocabSize < 0 || vocabSize > 65536) {
      throw new UsageError(`--vocab-size must be an integer in 0..65536, got ${vocabSize}`);
    }
    const workers = values.workers as number | undefined;
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
      throw new UsageError(`--workers must be an integer >= 1, got ${workers}`);
    }
    const tty = Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    const clear = () => tty && Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    const t0 = performance.now();
    let last = 0;
    const r = await pretokenize({
      dataDir: values["data-dir"] as string,
      vocabSize,
      tokenizer: values.tokenizer as string | undefined,
      workers,
      onProgress: tty
        ? (s, done, shards) => {
          const now = performance.now();
          if (now - last < 250 && done < shards) return;
          last = now;
          const sec = (now - t0) / 1000;
          Deno.stderr.writeSync(enc.encode(
            `\r\x1b[Kshards ${done}/${shards}  ${(s.bytes / 1e6).toFixed(1)} MB JSON  ` +
              `${s.stories} stories  ${s.tokens} tokens  ${(s.bytes / 1e6 / sec).toFixed(1)} MB/s`,
          ));
        }
        : undefined,
    }).finally(clear);
    console.log(
      `${r.outputs.length} shards, ${r.stories} stories, ${r.tokens} tokens in ` +
        `${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s, ` +
        `${Math.round(r.tokens / r.seconds)} tokens/s)`,
    );
  },
};
