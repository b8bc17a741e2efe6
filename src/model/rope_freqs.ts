/**
 * The RoPE tables (model.py's `precompute_freqs_cis`): plain CPU arithmetic that the training
 * graph, the decoder and llama2.c's legacy `.bin` (which stores them) all use. A leaf module: the
 * rotation itself is the `rope` op (src/ops/rope.ts).
 *
 * @module
 */

/**
 * The cos and sin tables `[T, HS/2]`, computed in float32 the way model.py's
 * `precompute_freqs_cis` does in PyTorch: `freqs = 1 / theta ** (arange(0, HS, 2) / HS)`,
 * `angles = outer(arange(T), freqs)`, each step rounded to float32.
 *
 * @param HS head size (even)
 * @param T number of positions
 * @param theta RoPE base
 * @returns cos and sin, `[T, HS/2]` row-major
 * @throws {RangeError} when HS is odd or a size is not a positive integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeFreqs } from "./rope_freqs.ts";
 *
 * const { cos, sin } = ropeFreqs(48, 256);
 * assert.equal(cos.length, 256 * 24);
 * assert.equal(cos[0], 1); // position 0: no rotation
 * assert.equal(sin[0], 0);
 * ```
 */
export function ropeFreqs(
  HS: number,
  T: number,
  theta = 10000,
): { cos: Float32Array<ArrayBuffer>; sin: Float32Array<ArrayBuffer> } {
  if (!Number.isInteger(HS) || HS < 2 || HS % 2 !== 0) {
    throw new RangeError(
      `Cannot compute RoPE tables: HS must be a positive even integer, got ${HS}`,
    );
  }
  if (!Number.isInteger(T) || T < 1) {
    throw new RangeError(`Cannot compute RoPE tables: T must be a positive integer, got ${T}`);
  }
  const half = HS / 2, f = Math.fround;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f(1 / f(Math.pow(f(theta), f((2 * i) / HS))));
  const cos = new Float32Array(T * half), sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = f(t * freqs[i]);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
