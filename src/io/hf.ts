/**
 * Hugging Face Llama export, as llama2.c's export.py `hf_export`: a directory with
 * `config.json` (a `LlamaConfig` for `LlamaForCausalLM`), `model.safetensors` (HF tensor
 * names, float32) and, when a SentencePiece model is given, `tokenizer.model` plus a
 * `tokenizer_config.json`, loadable with `transformers`' `AutoModelForCausalLM` and
 * `AutoTokenizer`.
 *
 * HF's Llama applies rotary embeddings to the two halves of each head (`rotate_half`) where
 * llama2.c rotates interleaved pairs, so wq and wk rows are permuted within each head: HF row
 * `h·HS + a·HS/2 + i` is llama2.c row `h·HS + 2i + a` (a ∈ {0, 1}, i < HS/2). That is the
 * permutation export.py applies (`permute_original`), with NKV heads for wk.
 *
 * @module
 */
import { join } from "node:path";
import { headSize, type ModelConfig } from "../model/config.ts";
import { type TensorName, tensorTable } from "../model/tensors.ts";
import { encodeSafetensors, type SafeTensorInput } from "./safetensors.ts";
import { writeFileAtomic } from "../util/atomic.ts";

/** HF names of the per-layer tensors. */
const _LAYER_NAMES: [TensorName, string][] = [
  ["rms_att", "input_layernorm"],
  ["wq", "self_attn.q_proj"],
  ["wk", "self_attn.k_proj"],
  ["wv", "self_attn.v_proj"],
  ["wo", "self_attn.o_proj"],
  ["rms_ffn", "post_attention_layernorm"],
  ["w1", "mlp.gate_proj"],
  ["w2", "mlp.down_proj"],
  ["w3", "mlp.up_proj"],
];

/**
 * `config.json` for a `LlamaForCausalLM` with this shape (the fields export.py sets, plus
 * transformers' Llama defaults written out: rope_theta 10000, bos 1, eos 2).
 */
export function hfConfig(config: ModelConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: config.vocab_size,
    hidden_size: config.dim,
    intermediate_size: config.hidden_dim,
    num_hidden_layers: config.n_layers,
    num_attention_heads: config.n_heads,
    num_key_value_heads: config.n_kv_heads,
    max_position_embeddings: config.max_seq_len,
    rms_norm_eps: config.norm_eps,
    tie_word_embeddings: config.shared_classifier,
    hidden_act: "silu",
    rope_theta: 10000.0,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    pretraining_tp: 1,
    bos_token_id: 1,
    eos_token_id: 2,
    use_cache: true,
    torch_dtype: "float32",
  };
}

/**
 * Permutes the rows of one head-structured projection [heads·HS, cols] from llama2.c's
 * interleaved RoPE order to HF's half-split order (export.py's `permute_original`).
 *
 * @param w row-major [heads·hs, cols]
 * @returns a new array
 * @throws {RangeError} when the sizes do not fit
 */
export function permuteForHf(
  w: Float32Array,
  heads: number,
  hs: number,
  cols: number,
): Float32Array<ArrayBuffer> {
  if (hs % 2 !== 0 || w.length !== heads * hs * cols) {
    throw new RangeError(
      `Cannot permute for HF: ${w.length} elements is not ${heads} heads x ${hs} x ${cols} with even head size`,
    );
  }
  const out = new Float32Array(w.length), half = hs / 2;
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < half; i++) {
        const src = (h * hs + 2 * i + a) * cols, dst = (h * hs + a * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/**
 * The HF state dict: `model.embed_tokens.weight`, `model.layers.{l}.…`, `model.norm.weight`,
 * and `lm_head.weight` only when the classifier is not tied (HF re-ties it on load, as
 * `save_pretrained` omits it).
 *
 * @param params flat params in the {@link tensorTable} layout
 * @throws {TypeError} when params does not have the table's size
 */
export function hfTensors(
  config: ModelConfig,
  params: Float32Array,
): Record<string, SafeTensorInput> {
  const table = tensorTable(config);
  if (!(params instanceof Float32Array) || params.length !== table.size) {
    throw new TypeError(
      `Cannot export to HF: params must be a Float32Array of ${table.size} floats`,
    );
  }
  const slice = (name: TensorName, l = 0) => {
    const e = table.byName.get(name)!;
    const off = e.offset + l * e.layerStride;
    return { e, data: params.subarray(off, off + e.layerNumel) };
  };
  const hs = headSize(config);
  const out: Record<string, SafeTensorInput> = {};
  const put = (name: string, shape: number[], data: Float32Array) => {
    out[name] = { dtype: "F32", shape, data };
  };
  const emb = slice("tok_embeddings");
  put("model.embed_tokens.weight", emb.e.shape, emb.data);
  for (let l = 0; l < config.n_layers; l++) {
    for (const [ours, theirs] of _LAYER_NAMES) {
      const { e, data } = slice(ours, l);
      let d: Float32Array = data;
      if (ours === "wq") d = permuteForHf(data, config.n_heads, hs, config.dim);
      if (ours === "wk") d = permuteForHf(data, config.n_kv_heads, hs, config.dim);
      put(`model.layers.${l}.${theirs}.weight`, e.shape, d);
    }
  }
  const norm = slice("rms_final");
  put("model.norm.weight", norm.e.shape, norm.data);
  if (!config.shared_classifier) {
    const cls = slice("wcls");
    put("lm_head.weight", cls.e.shape, cls.data);
  }
  return out;
}

/** Options of {@link writeHfModel}. */
export interface HfExportOptions {
  /** A SentencePiece `tokenizer.model` to copy in (with a `tokenizer_config.json`). */
  tokenizerModel?: string;
}

/**
 * Writes a Hugging Face Llama directory (created if needed; files written atomically).
 *
 * @returns the paths written
 * @example
 * ```ts
 * import { readLlama2cFile } from "./llama2c.ts";
 * import { writeHfModel } from "./hf.ts";
 *
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * await writeHfModel("out/hf", config, params, { tokenizerModel: "data/tokenizer.model" });
 * // python: AutoModelForCausalLM.from_pretrained("out/hf")
 * ```
 */
export async function writeHfModel(
  dir: string,
  config: ModelConfig,
  params: Float32Array,
  opts: HfExportOptions = {},
): Promise<string[]> {
  const tensors = encodeSafetensors(hfTensors(config, params), { format: "pt" });
  await Deno.mkdir(dir, { recursive: true });
  const enc = new TextEncoder();
  const written: string[] = [];
  const write = async (name: string, bytes: Uint8Array) => {
    await writeFileAtomic(join(dir, name), bytes);
    written.push(join(dir, name));
  };
  await write("model.safetensors", tensors);
  await write("config.json", enc.encode(JSON.stringify(hfConfig(config), null, 2) + "\n"));
  await write(
    "generation_config.json",
    enc.encode(JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }, null, 2) + "\n"),
  );
  if (opts.tokenizerModel !== undefined) {
    await write("tokenizer.model", await Deno.readFile(opts.tokenizerModel));
    const tk = {
      tokenizer_class: "LlamaTokenizer",
      bos_token: "<s>",
      eos_token: "</s>",
      unk_token: "<unk>",
      pad_token: null,
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
      legacy: true,
      model_max_length: config.max_seq_len,
      sp_model_kwargs: {},
    };
    await write("tokenizer_config.json", enc.encode(JSON.stringify(tk, null, 2) + "\n"));
  }
  return written;
}
