/**
 * `export`: writes a trained model in llama2.c's formats (v0, v1, v2 = int8 Q8_0) or as a
 * Hugging Face Llama directory, and converts a SentencePiece model to llama2.c's tokenizer.bin.
 *
 * @module
 */
import { type Command, UsageError } from "./args.ts";
import { encodeTokenizerBin } from "../data/tokenizer_bin.ts";
import { writeHfModel } from "../io/hf.ts";
import {
  encodeLlama2cV0,
  encodeLlama2cV1,
  encodeLlama2cV2,
  writeLlama2cFile,
} from "../io/llama2c.ts";
import { loadModel } from "../io/model_file.ts";
import { parseModelProto } from "../data/sentencepiece_model.ts";

/** Output formats of `export`: llama2.c's versions 0, 1, 2 and a Hugging Face directory. */
export type ExportFormat = "v0" | "v1" | "v2" | "hf";

/**
 * Exports a model to `out` in `format`; returns a one-line summary.
 *
 * @example
 * ```ts
 * import { exportModel } from "./export.ts";
 *
 * console.log(await exportModel("out", "v2", "out/model_q80.bin"));
 * ```
 */
export async function exportModel(
  checkpoint: string,
  format: ExportFormat,
  out: string,
  tokenizerModel?: string,
): Promise<string> {
  const { config, params } = await loadModel(checkpoint);
  const shape = `dim ${config.dim}, ${config.n_layers} layers, vocab ${config.vocab_size}`;
  if (format === "hf") {
    if (tokenizerModel !== undefined) {
      const warning = await checkHfTokenizer(tokenizerModel, config.vocab_size);
      if (warning) console.error(warning);
    }
    const files = await writeHfModel(out, config, params, { tokenizerModel });
    return `wrote ${out}/ (Hugging Face Llama: ${files.length} files; ${shape})`;
  }
  if (tokenizerModel !== undefined) {
    throw new UsageError("--tokenizer goes with --format hf or --tokenizer-bin");
  }
  let bytes: Uint8Array, extra = "";
  if (format === "v0") bytes = encodeLlama2cV0(config, params);
  else if (format === "v1") bytes = encodeLlama2cV1(config, params);
  else {
    const r = encodeLlama2cV2(config, params);
    bytes = r.bytes;
    extra = `, Q8_0 group size ${r.groupSize}, max error ${r.maxErr.toExponential(3)}`;
  }
  await writeLlama2cFile(out, bytes);
  return `wrote ${out} (llama2.c ${format}, ${bytes.length} bytes; ${shape}${extra})`;
}

/** The `export` subcommand. */
export const exportCommand: Command = {
  name: "export",
  summary: "write a model as llama2.c v0/v1/v2 (int8) .bin or a Hugging Face directory",
  usage: "--checkpoint OUT_DIR|MODEL.bin --format v0|v1|v2|hf --out PATH [--tokenizer M]\n" +
    "       babyllama export --tokenizer-bin --tokenizer tokenizer.model --out tokenizer.bin",
  flags: {
    checkpoint: {
      type: "string",
      help: "training out_dir (ckpt.json + ckpt.safetensors) or a llama2.c .bin (v0/v1)",
    },
    format: {
      type: ["v0", "v1", "v2", "hf"],
      default: "v0",
      help: "v0 legacy, v1 float32 with header, v2 int8 Q8_0 (runq.c), hf directory",
    },
    out: { type: "string", required: true, help: "output file (a directory for hf)" },
    tokenizer: {
      type: "string",
      help: "SentencePiece tokenizer.model: copied into the hf directory, or converted",
    },
    "tokenizer-bin": {
      type: "boolean",
      default: false,
      help: "convert --tokenizer to llama2.c's tokenizer.bin instead of exporting a model",
    },
  },
  async run(values) {
    const out = values.out as string;
    const tokenizer = values.tokenizer as string | undefined;
    if (values["tokenizer-bin"]) {
      if (tokenizer === undefined) throw new UsageError("--tokenizer-bin needs --tokenizer");
      if (values.checkpoint !== undefined) {
        throw new UsageError("--tokenizer-bin exports a tokenizer; drop --checkpoint");
      }
      console.log(await exportTokenizerBin(tokenizer, out));
      return 0;
    }
    if (values.checkpoint === undefined) throw new UsageError("missing required flag --checkpoint");
    console.log(
      await exportModel(values.checkpoint as string, values.format as ExportFormat, out, tokenizer),
    );
    return 0;
  },
};

/** Converts a SentencePiece model to llama2.c's tokenizer.bin; returns a one-line summary. */
export async function exportTokenizerBin(model: string, out: string): Promise<string> {
  const proto = parseModelProto(await Deno.readFile(model));
  const bytes = encodeTokenizerBin(proto);
  await writeLlama2cFile(out, bytes);
  return `wrote ${out} (llama2.c tokenizer, ${proto.pieces.length} tokens, ${bytes.length} bytes)`;
}

/**
 * Checks the SentencePiece model an hf export copies against the model's vocabulary: more pieces
 * than the vocab is an error (the tokenizer would produce ids the embedding does not have); fewer
 * is a warning (a padded vocab: ids from the tokenizer's size on are never produced by it).
 *
 * @param path the tokenizer.model
 * @param vocab the model's vocab_size
 * @returns a one-line warning, or null when the sizes match
 * @throws {Error} (one line) when the file is not a SentencePiece model or has more pieces
 */
export async function checkHfTokenizer(path: string, vocab: number): Promise<string | null> {
  let pieces: number;
  try {
    pieces = parseModelProto(await Deno.readFile(path)).pieces.length;
  } catch (e) {
    const why = (e as Error).message.split("\n")[0].replace(/^Cannot [^:]*: /, "");
    throw new Error(`Cannot export: --tokenizer ${path} is not a SentencePiece model (${why})`);
  }
  if (pieces === vocab) return null;
  if (pieces > vocab) {
    throw new RangeError(
      `Cannot export: the tokenizer ${path} has ${pieces} pieces but the model's vocab is ` +
        `${vocab}: it would produce ids the model does not have`,
    );
  }
  return `warning: the tokenizer ${path} has ${pieces} pieces, the model's vocab is ${vocab}: ` +
    `ids ${pieces}..${vocab - 1} have no piece`;
}
