/**
 * Mean cross-entropy of a model over a token stream's consecutive non-overlapping windows (the
 * `eval` command's contract): n = floor((len - 1) / S) windows, window i has inputs
 * t[i*S : (i+1)*S] and targets t[i*S+1 : (i+1)*S+1].
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { ModelConfig } from "./config.ts";
import { Model } from "./model.ts";
import { tunerFor } from "../gpu/tune.ts";

/** Result of {@link evaluateTokens}. */
export interface EvalResult {
  /** Mean cross-entropy over every target of every window. */
  loss: number;
  /** Number of windows n. */
  windows: number;
  /** Number of scored tokens n * S. */
  tokens: number;
}

/**
 * Reads a uint16 little-endian token file's bytes as token ids.
 *
 * @throws {SyntaxError} when the byte length is odd
 */
export function tokensFromBytes(bytes: Uint8Array): Uint16Array {
  if (bytes.byteLength % 2 !== 0) {
    throw new SyntaxError(
      `Cannot read tokens: ${bytes.byteLength} bytes is not a whole number of uint16 tokens`,
    );
  }
  const out = new Uint16Array(bytes.byteLength / 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(2 * i, true);
  return out;
}

/**
 * Evaluates `params` on `tokens` in windows of `S`, `batchSize` windows per forward pass.
 *
 * @throws {RangeError} for an empty or too short stream, S above the model's seq_len, or a token
 *   id >= vocab_size
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { readLlama2cFile } from "../io/llama2c.ts";
 * import { evaluateTokens, tokensFromBytes } from "./evaluate.ts";
 *
 * using gpu = await acquireGpu();
 * const ckpt = await readLlama2cFile("stories260K.bin");
 * const tokens = tokensFromBytes(await Deno.readFile("tokens.bin"));
 * const { loss } = await evaluateTokens(gpu, ckpt.config, ckpt.params, tokens, 64, 8);
 * ```
 */
export async function evaluateTokens(
  gpu: Gpu,
  config: ModelConfig,
  params: Float32Array<ArrayBuffer>,
  tokens: ArrayLike<number>,
  S: number,
  batchSize: number,
): Promise<EvalResult> {
  if (!Number.isInteger(S) || S < 1) {
    throw new RangeError(`Cannot evaluate: seq-len must be a positive integer, got ${S}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot evaluate: batch-size must be a positive integer, got ${batchSize}`,
    );
  }
  if (S > config.max_seq_len) {
    throw new RangeError(
      `Cannot evaluate: seq-len ${S} exceeds the model's seq_len ${config.max_seq_len}`,
    );
  }
  if (tokens.length === 0) throw new RangeError("Cannot evaluate: the token file is empty");
  const n = Math.floor((tokens.length - 1) / S);
  if (n === 0) {
    throw new RangeError(
      `Cannot evaluate: ${tokens.length} tokens are fewer than one window of ${S} + 1`,
    );
  }
  for (let i = 0; i < n * S + 1; i++) {
    if (tokens[i] >= config.vocab_size) {
      throw new RangeError(
        `Cannot evaluate: token ${tokens[i]} at index ${i} is >= vocab_size ${config.vocab_size} ` +
          "(the tokens were made with a tokenizer that is not the model's)",
      );
    }
  }
  const B = Math.min(batchSize, n);
  using model = await tunerFor(gpu).build(() =>
    new Model(gpu, config, { B, T: S, training: false })
  );
  await model.check();
  model.setParams(params);
  const x = new Uint32Array(B * S), y = new Int32Array(B * S);
  let sum = 0;
  for (let w0 = 0; w0 < n; w0 += B) {
    const rows = Math.min(B, n - w0);
    x.fill(0);
    y.fill(-1);
    for (let r = 0; r < rows; r++) {
      const base = (w0 + r) * S;
      for (let t = 0; t < S; t++) {
        x[r * S + t] = tokens[base + t];
        y[r * S + t] = tokens[base + t + 1];
      }
    }
    model.setBatch(x, y);
    model.forwardPlan.submit();
    sum += (await model.readLoss()) * rows * S;
  }
  return { loss: sum / (n * S), windows: n, tokens: n * S };
}
