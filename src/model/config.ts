/**
 * The model's shape: llama2.c's `ModelArgs` with its defaults.
 *
 * @module
 */

/** llama2.c's `ModelArgs` (field names as in model.py), plus whether the classifier is tied. */
export interface ModelConfig {
  /** Model width C. */
  dim: number;
  /** Number of transformer blocks L. */
  n_layers: number;
  /** Query heads NH. */
  n_heads: number;
  /** Key/value heads NKV (NH is a multiple of it). */
  n_kv_heads: number;
  /** Vocabulary size V. */
  vocab_size: number;
  /** FFN width H; model.py derives it from dim and multiple_of. */
  hidden_dim: number;
  /** FFN width rounding. */
  multiple_of: number;
  /** Longest sequence T. */
  max_seq_len: number;
  /** Dropout probability (training only). */
  dropout: number;
  /** RMSNorm epsilon. */
  norm_eps: number;
  /** Classifier shares the embedding matrix (llama2.c trains tied). */
  shared_classifier: boolean;
}

/** model.py's FFN width: `multiple_of * ceil(int(2 * 4 * dim / 3) / multiple_of)`. */
export function defaultHiddenDim(dim: number, multipleOf: number): number {
  const h = Math.floor((2 * 4 * dim) / 3);
  return multipleOf * Math.ceil(h / multipleOf);
}

/**
 * A full config from partial fields, with llama2.c's defaults (dim 288, 6 layers, 6 heads,
 * vocab 32000, seq 256) and validation.
 *
 * @throws {RangeError} for impossible shapes (dim not divisible by heads, heads not a multiple
 *   of KV heads, odd head size, non-positive sizes, dropout outside [0, 1))
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./config.ts";
 *
 * const cfg = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, n_kv_heads: 2, vocab_size: 512 });
 * assert.equal(cfg.hidden_dim, 192);
 * ```
 */
export function modelConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const base = {
    dim: 288,
    n_layers: 6,
    n_heads: 6,
    n_kv_heads: partial.n_kv_heads ?? partial.n_heads ?? 6,
    vocab_size: 32000,
    multiple_of: 32,
    max_seq_len: 256,
    dropout: 0,
    norm_eps: 1e-5,
    shared_classifier: true,
    ...partial,
  };
  const cfg: ModelConfig = {
    ...base,
    hidden_dim: partial.hidden_dim ?? defaultHiddenDim(base.dim, base.multiple_of),
  };
  validateConfig(cfg);
  return cfg;
}

/** Checks a config's shape; throws a RangeError naming the first problem. */
export function validateConfig(cfg: ModelConfig): void {
  for (
    const k of [
      "dim",
      "n_layers",
      "n_heads",
      "n_kv_heads",
      "vocab_size",
      "hidden_dim",
      "multiple_of",
      "max_seq_len",
    ] as const
  ) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) {
      throw new RangeError(
        `Cannot use model config: ${k} must be a positive integer, got ${cfg[k]}`,
      );
    }
  }
  if (cfg.dim % cfg.n_heads !== 0) {
    throw new RangeError(
      `Cannot use model config: dim ${cfg.dim} is not divisible by n_heads ${cfg.n_heads}`,
    );
  }
  if (cfg.n_heads % cfg.n_kv_heads !== 0) {
    throw new RangeError(
      `Cannot use model config: n_heads ${cfg.n_heads} is not a multiple of n_kv_heads ${cfg.n_kv_heads}`,
    );
  }
  if ((cfg.dim / cfg.n_heads) % 2 !== 0) {
    throw new RangeError(
      `Cannot use model config: head size ${cfg.dim / cfg.n_heads} is odd (RoPE needs pairs)`,
    );
  }
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) {
    throw new RangeError(`Cannot use model config: dropout must be in [0, 1), got ${cfg.dropout}`);
  }
  if (!(cfg.norm_eps > 0)) {
    throw new RangeError(`Cannot use model config: norm_eps must be positive, got ${cfg.norm_eps}`);
  }
  if (cfg.vocab_size > 65536) {
    throw new RangeError(
      `Cannot use model config: vocab_size ${cfg.vocab_size} does not fit uint16 tokens`,
    );
  }
}

/** Head size HS = C / NH. */
export function headSize(cfg: ModelConfig): number {
  return cfg.dim / cfg.n_heads;
}

/** KV width = NKV * HS. */
export function kvDim(cfg: ModelConfig): number {
  return cfg.n_kv_heads * headSize(cfg);
}
