/**
 * Token embedding: forward lookup `out[n,:] = weight[tokens[n],:]`, and a deterministic
 * backward `dweight[v,:] += sum_{n: tokens[n]=v} dout[n,:]` driven by a CSR index that the CPU
 * builds from the tokens it uploads anyway ({@link embeddingIndex}).
 *
 * @module
 */
import fwdCode from "../../kernels/embedding_forward.wgsl" with { type: "text" };
import bwdCode from "../../kernels/embedding_backward.wgsl" with { type: "text" };
import { defineKernel, type Kernel } from "../gpu/kernel.ts";
import { grid, type Plan } from "../gpu/plan.ts";
import type { BufferBinding } from "../gpu/buffers.ts";

/** The `embedding_forward` kernel. */
export const embeddingForwardKernel: Kernel = defineKernel("embedding_forward", fwdCode);
/** The `embedding_backward` kernel. */
export const embeddingBackwardKernel: Kernel = defineKernel("embedding_backward", bwdCode);

const WG = 64;

function _check(name: string, N: number, C: number): void {
  if (!(Number.isInteger(N) && N >= 1 && Number.isInteger(C) && C >= 1)) {
    throw new RangeError(`Cannot record ${name}: N=${N} and C=${C} must be positive integers`);
  }
}

/**
 * Number of u32 words of the embedding-backward index for `N` tokens (fixed per N, so the
 * model allocates it once): `3N + 2`.
 *
 * @param N number of tokens (B*T)
 * @returns the index length in u32 words
 */
export function embeddingIndexLength(N: number): number {
  if (!Number.isInteger(N) || N < 0) {
    throw new RangeError(`Cannot size embedding index: N=${N} is not a non-negative integer`);
  }
  return 3 * N + 2;
}

/**
 * Builds the CSR index the `embedding_backward` kernel reads: `[U, unique tokens (N slots,
 * ascending), offsets (N+1 slots), positions (N, increasing within each token)]`.
 *
 * @param tokens token ids of the N positions
 * @param out where to write (length {@link embeddingIndexLength}(N)); a new array when omitted
 * @returns the index
 * @throws {TypeError} when `out` has the wrong length
 * @throws {RangeError} when a token is not an integer in [0, 2^32)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingIndex } from "./embedding.ts";
 *
 * // U=2, tokens [2, 5, -], offsets [0, 1, 3, -], positions [1, 0, 2]
 * assert.deepEqual([...embeddingIndex([5, 2, 5])], [2, 2, 5, 0, 0, 1, 3, 0, 1, 0, 2]);
 * ```
 */
export function embeddingIndex(tokens: ArrayLike<number>, out?: Uint32Array): Uint32Array {
  const N = tokens.length;
  const len = embeddingIndexLength(N);
  if (out && out.length !== len) {
    throw new TypeError(
      `Cannot build embedding index: output has length ${out.length}, need ${len} for N=${N}`,
    );
  }
  const index = out ?? new Uint32Array(len);
  index.fill(0);
  // Sort keys token * N + n (exact in f64 for N < 2^21): groups positions by token, in order.
  const keys = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const t = tokens[n];
    if (!Number.isInteger(t) || t < 0 || t >= 2 ** 32) {
      throw new RangeError(`Cannot build embedding index: token ${t} at position ${n} is invalid`);
    }
    keys[n] = t * N + n;
  }
  keys.sort();
  const uniq = 1, offs = 1 + N, pos = 2 + 2 * N;
  let U = 0;
  let prev = -1;
  for (let j = 0; j < N; j++) {
    const t = Math.floor(keys[j] / N);
    const n = keys[j] - t * N;
    if (t !== prev) {
      index[uniq + U] = t;
      index[offs + U] = j;
      U++;
      prev = t;
    }
    index[pos + j] = n;
  }
  index[offs + U] = N;
  index[0] = U;
  return index;
}

/**
 * Records `out[n,:] = weight[tokens[n],:]`.
 *
 * @param plan the plan to record into
 * @param b buffers: out [N,C], tokens u32 [N], weight [V,C]
 * @param p sizes N, C
 */
export function embeddingForward(
  plan: Plan,
  b: { out: BufferBinding; tokens: BufferBinding; weight: BufferBinding },
  p: { N: number; C: number },
): void {
  _check("embedding_forward", p.N, p.C);
  plan.dispatch(
    embeddingForwardKernel,
    b,
    { N: p.N, C: p.C },
    grid(Math.ceil((p.N * p.C) / WG)),
    { WG },
  );
}

/**
 * Records `dweight[v,:] += sum over n with tokens[n]==v of dout[n,:]`, deterministically, from
 * the index built by {@link embeddingIndex} (written into `index` before the plan runs).
 *
 * @param plan the plan to record into
 * @param b buffers: dweight [V,C], dout [N,C], index u32 [embeddingIndexLength(N)]
 * @param p sizes N, C
 */
export function embeddingBackward(
  plan: Plan,
  b: { dweight: BufferBinding; dout: BufferBinding; index: BufferBinding },
  p: { N: number; C: number },
): void {
  _check("embedding_backward", p.N, p.C);
  plan.dispatch(
    embeddingBackwardKernel,
    b,
    { N: p.N, C: p.C },
    grid(Math.ceil((p.N * Math.ceil(p.C / 4)) / WG)),
    { WG },
  );
}
