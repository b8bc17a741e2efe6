/**
 * f64 reference of the counter-based inverted dropout (test oracle), and the exact mask.
 *
 * @module
 */
import { hash32 } from "../util/rng.ts";

export { hash32 };

/** Whether element `i` is kept: `hash32(hash32(seed ^ salt) + i) >= floor(p * 2^32)`. */
export function dropoutKeep(seed: number, salt: number, i: number, p: number): boolean {
  const threshold = Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
  return hash32((hash32((seed ^ salt) >>> 0) + i) >>> 0) >= threshold;
}

/** `out[i] = keep(i) ? inp[i] / (1 - p) : 0`. */
export function dropoutForward(
  inp: ArrayLike<number>,
  seed: number,
  salt: number,
  p: number,
): Float64Array {
  const out = new Float64Array(inp.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = dropoutKeep(seed, salt, i, p) ? inp[i] / (1 - p) : 0;
  }
  return out;
}

/** `dinp[i] = keep(i) ? dout[i] / (1 - p) : 0` (the same mask as the forward). */
export function dropoutBackward(
  dout: ArrayLike<number>,
  seed: number,
  salt: number,
  p: number,
): Float64Array {
  return dropoutForward(dout, seed, salt, p);
}
