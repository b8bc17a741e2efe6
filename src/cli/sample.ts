/**
 * `sample`: generates text from a model on the GPU, like llama2.c's `run.c` in generate mode:
 * the prompt is encoded with BOS, its tokens are forced and printed, then tokens are sampled
 * (temperature 0 = greedy, else top-p) until `--steps` positions, the model's max_seq_len, or
 * BOS. Decoding runs many steps per GPU submit (src/model/generate.ts); the text streams to
 * stdout batch by batch and `achieved tok/s: N` goes to stderr at the end.
 *
 * @module
 */
import { type Command, REQUIRE_GPU_FLAG, requireGpuOption, UsageError } from "./args.ts";
import { acquireGpu } from "../gpu/device.ts";
import { loadModel } from "../io/model_file.ts";
import { Tokenizer } from "../data/tokenizer.ts";
import { decodeVariants, Generator } from "../model/generate.ts";
import { configureTuner, TUNE_FLAGS } from "./tune.ts";
import { tunerFor } from "../gpu/tune.ts";

/** True for a one-byte piece run.c's `safe_printf` would not print (ASCII control, not space). */
function _unprintable(b: Uint8Array): boolean {
  if (b.length !== 1) return false;
  const c = b[0];
  return (c < 0x20 && !(c >= 0x09 && c <= 0x0d)) || c === 0x7f;
}

/**
 * Checks a tokenizer against the model's vocabulary as llama2.c's run.c would use it: run.c
 * reads the model's vocab_size pieces from tokenizer.bin, so a smaller tokenizer cannot work
 * (the model can sample ids it has no piece for) and a larger one decodes with its first
 * pieces. Ids that would be wrong are an error: a smaller tokenizer, or a prompt that encodes to
 * an id the model does not have.
 *
 * @param path the tokenizer file, for messages
 * @param pieces the tokenizer's number of pieces
 * @param vocab the model's vocab_size
 * @param prompt the encoded prompt
 * @returns a one-line warning when run.c would proceed with a larger tokenizer, else null
 * @throws {RangeError} (one line) for a mismatch that gives wrong ids
 * @example
 * ```ts
 * checkSampleVocab("tok512.bin", 512, 512, [1, 403]); // null
 * ```
 */
export function checkSampleVocab(
  path: string,
  pieces: number,
  vocab: number,
  prompt: readonly number[],
): string | null {
  if (pieces === vocab) return null;
  if (pieces < vocab) {
    throw new RangeError(
      `Cannot sample: the tokenizer ${path} has ${pieces} pieces but the model's vocab is ` +
        `${vocab}: the model can sample ids it has no piece for (run.c cannot load it either)`,
    );
  }
  const bad = prompt.find((id) => id >= vocab);
  if (bad !== undefined) {
    throw new RangeError(
      `Cannot sample: the prompt encodes to id ${bad}, outside the model's vocab of ${vocab}: ` +
        `the tokenizer ${path} (${pieces} pieces) is not the model's`,
    );
  }
  return `warning: the tokenizer ${path} has ${pieces} pieces but the model's vocab is ${vocab}: ` +
    `ids decode with its first ${vocab} pieces, as run.c does (is it the model's tokenizer?)`;
}

/** The `sample` subcommand. */
export const sampleCommand: Command = {
  name: "sample",
  summary: "generate text from a model on the GPU (llama2.c run.c's generate mode)",
  usage: "--model M.bin|OUT_DIR --tokenizer tokenizer.bin|.model [--prompt S] [flags]",
  flags: {
    model: {
      type: "string",
      required: true,
      help: "llama2.c model (.bin) or a checkpoint directory with ckpt.json",
    },
    tokenizer: {
      type: "string",
      required: true,
      help: "tokenizer: llama2.c tokenizer.bin or a SentencePiece .model",
    },
    prompt: { type: "string", default: "", help: "text to start from (encoded with BOS)" },
    temperature: { type: "number", default: 1.0, help: "0 = greedy (argmax)" },
    "top-p": {
      type: "number",
      default: 0.9,
      help: "nucleus sampling mass; <= 0 or >= 1 samples from the whole distribution",
    },
    steps: {
      type: "number",
      default: 256,
      help: "positions to run (tokens printed); 0 or more than the model's seq_len = seq_len",
    },
    seed: { type: "number", help: "u32 sampler seed (default: the time in seconds, as run.c)" },
    "steps-per-submit": {
      type: "number",
      default: 0,
      help: "decode steps per GPU submit (one readback each); 0 = auto (16, or 128 when one " +
        "dispatch runs whole steps)",
    },
    pipeline: {
      type: "boolean",
      default: true,
      help: "queue the next batch of steps before reading the previous one",
    },
    "decode-variant": {
      type: "string",
      help: "decode kernels (default: chosen per adapter and model; --verbose lists them)",
    },
    verbose: {
      type: "boolean",
      default: false,
      help: "print adapter, decode variant, seed, dispatches per token and timing on stderr",
    },
    "require-gpu": REQUIRE_GPU_FLAG,
    ...TUNE_FLAGS,
  },
  async run(v) {
    const temperature = v.temperature as number, topP = v["top-p"] as number;
    const steps = v.steps as number, K = v["steps-per-submit"] as number;
    if (!(Number.isFinite(temperature) && temperature >= 0)) {
      throw new UsageError(`--temperature must be >= 0, got ${temperature}`);
    }
    if (!Number.isFinite(topP)) throw new UsageError(`--top-p must be a number, got ${topP}`);
    if (!(Number.isInteger(steps) && steps >= 0)) {
      throw new UsageError(`--steps must be a non-negative integer, got ${steps}`);
    }
    if (!(Number.isInteger(K) && K >= 0 && K <= 4096)) {
      throw new UsageError(`--steps-per-submit must be an integer in 0..4096, got ${K}`);
    }
    const seed = v.seed === undefined ? Math.floor(Date.now() / 1000) : (v.seed as number);
    if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
      throw new UsageError(`--seed must be an integer in 0..2^32-1, got ${seed}`);
    }
    const { config, params } = await loadModel(v.model as string);
    const tok = await Tokenizer.load(v.tokenizer as string);
    const prompt = tok.encode(v.prompt as string, { bos: true });
    const warning = checkSampleVocab(
      v.tokenizer as string,
      tok.vocabSize,
      config.vocab_size,
      prompt,
    );
    if (warning) console.error(warning);
    using gpu = await acquireGpu({
      verbose: v.verbose as boolean,
      requireGpu: requireGpuOption(v),
    });
    const wanted = v["decode-variant"] as string | undefined;
    const candidates = decodeVariants(gpu, config).map((c) => c.name);
    if (wanted !== undefined && !candidates.includes(wanted)) {
      throw new UsageError(
        `--decode-variant must be one of ${candidates.join(", ")} for this model, got ${wanted}`,
      );
    }
    await configureTuner(gpu, v);
    using gen = await tunerFor(gpu).build(() =>
      new Generator(gpu, config, params, {
        stepsPerSubmit: K === 0 ? undefined : K,
        pipelined: v.pipeline as boolean,
        variant: wanted,
      })
    );
    await gen.check();
    // warm-up: the first dispatches compile the pipelines
    for await (const _ of gen.generate({ prompt: [prompt[0]], steps: 1, temperature: 0 })) {
      // nothing
    }
    if (v.verbose) {
      console.error(`decode variant: ${gen.variant.name} (candidates: ${candidates.join(", ")})`);
      console.error(`seed: ${seed}`);
    }
    const utf8 = new TextDecoder(), enc = new TextEncoder();
    const write = (s: string) => {
      if (s.length > 0) Deno.stdout.writeSync(enc.encode(s));
    };
    let prev = prompt[0], n = 0;
    const t0 = performance.now();
    for await (
      const id of gen.generate({ prompt, steps, temperature, topP, seed, stopAtBos: true })
    ) {
      const bytes = tok.decodePieceBytes(prev, id);
      if (!_unprintable(bytes)) write(utf8.decode(bytes, { stream: true }));
      prev = id;
      n++;
    }
    write(utf8.decode() + "\n");
    const s = (performance.now() - t0) / 1000;
    console.error(`achieved tok/s: ${(n / s).toFixed(1)}`);
    if (v.verbose) {
      const d = gen.dispatchesPerToken;
      console.error(
        `${n} tokens in ${
          s.toFixed(3)
        } s, ${gen.submits} submits of ${gen.stepsPerSubmit} steps, ` +
          `dispatches per token: ${d >= 1 ? d : `1/${Math.round(1 / d)}`}`,
      );
    }
  },
};
