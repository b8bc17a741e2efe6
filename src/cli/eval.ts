/**
 * `eval`: mean cross-entropy of a model over a token file's consecutive windows.
 *
 * @module
 */
import { type Command, REQUIRE_GPU_FLAG, requireGpuOption, UsageError } from "./args.ts";
import { acquireGpu } from "../gpu/device.ts";
import { loadModel } from "../io/model_file.ts";
import { evaluateTokens, tokensFromBytes } from "../model/evaluate.ts";
import { configureTuner, TUNE_FLAGS } from "./tune.ts";

/**
 * The token files `pretokenize` writes say their vocabulary by their folder: `tok{N}/` for a
 * custom N-piece vocab, `TinyStories_all_data/` for Llama 2's 32000. A file from a folder whose
 * vocab differs from the model's holds ids of another tokenizer: its loss means nothing.
 *
 * @param path the token file
 * @param vocab the model's vocab_size
 * @returns a one-line warning, or null when the folder agrees or says nothing
 * @example
 * ```ts
 * tokensFolderVocabWarning("data/tok4096/data00.bin", 512); // "warning: ..."
 * ```
 */
export function tokensFolderVocabWarning(path: string, vocab: number): string | null {
  const parts = path.split(/[\\/]/).slice(0, -1);
  const dir = parts.at(-1) ?? "";
  const m = /^tok(\d+)$/.exec(dir);
  const n = m ? Number(m[1]) : dir === "TinyStories_all_data" ? 32000 : null;
  if (n === null || n === vocab) return null;
  return `warning: ${path} is in ${dir}/, where pretokenize writes ids of a ${n}-piece vocab, ` +
    `but the model's vocab is ${vocab}: were the tokens made with the model's tokenizer?`;
}

/** The `eval` subcommand. Its last stdout line is `{"loss": L, "windows": n, "tokens": n*S}`. */
export const evalCommand: Command = {
  name: "eval",
  summary: "mean cross-entropy of a llama2.c model over a uint16 token file",
  usage: "--model M.bin --tokens T.bin --seq-len S [--batch-size B]",
  flags: {
    model: {
      type: "string",
      required: true,
      help: "llama2.c model (.bin: legacy v0 or export.py version 1) or a training out_dir",
    },
    tokens: { type: "string", required: true, help: "uint16 little-endian token file" },
    "seq-len": { type: "number", required: true, help: "window length S (<= the model's seq_len)" },
    "batch-size": { type: "number", default: 8, help: "windows per forward pass" },
    verbose: { type: "boolean", default: false, help: "print the adapter and timing on stderr" },
    "require-gpu": REQUIRE_GPU_FLAG,
    ...TUNE_FLAGS,
  },
  async run(v) {
    const S = v["seq-len"] as number, B = v["batch-size"] as number;
    if (!Number.isInteger(S) || S < 1) {
      throw new UsageError(`--seq-len must be a positive integer, got ${S}`);
    }
    if (!Number.isInteger(B) || B < 1) {
      throw new UsageError(`--batch-size must be a positive integer, got ${B}`);
    }
    const ckpt = await loadModel(v.model as string);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(v.tokens as string);
    } catch (e) {
      throw new Error(`Cannot read tokens ${v.tokens}: ${(e as Error).message}`);
    }
    const tokens = tokensFromBytes(bytes);
    const warning = tokensFolderVocabWarning(v.tokens as string, ckpt.config.vocab_size);
    if (warning) console.error(warning);
    using gpu = await acquireGpu({
      verbose: v.verbose as boolean,
      requireGpu: requireGpuOption(v),
    });
    await configureTuner(gpu, v);
    const t0 = performance.now();
    const res = await evaluateTokens(
      gpu,
      ckpt.config,
      ckpt.params,
      tokens,
      S,
      B,
    );
    if (v.verbose) {
      const s = (performance.now() - t0) / 1000;
      console.error(
        `evaluated ${res.tokens} tokens in ${s.toFixed(2)} s (${
          (res.tokens / s).toFixed(0)
        } tokens/s)`,
      );
    }
    console.log(JSON.stringify(res));
  },
};
