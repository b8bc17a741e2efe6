/**
 * Counter-based random numbers that PyTorch fixture tools (tools/) compute identically with
 * vectorised integer ops: `hash32` is the lowbias32 integer hash; element i of a stream keyed
 * by `seed` is `hash32((hash32(seed) + i) mod 2^32)`; normals use Box-Muller on elements 2i
 * and 2i+1 in f64, rounded to f32 by the caller's array.
 *
 * @module
 */

/** lowbias32: a 32-bit integer hash with good avalanche. */
export function hash32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Element `i` (0 <= i < 2^32) of the uint32 stream keyed by `seed`. */
export function bitsAt(seed: number, i: number): number {
  return hash32((hash32(seed) + i) >>> 0);
}

/** Standard normal number `i` of the stream keyed by `seed` (Box-Muller, f64). */
export function normalAt(seed: number, i: number): number {
  const a = bitsAt(seed, 2 * i), b = bitsAt(seed, 2 * i + 1);
  const u1 = (a + 1) / 4294967296; // (0, 1]
  const u2 = b / 4294967296; // [0, 1)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Fills `out` with normal(0, std) numbers `start .. start + out.length - 1` of stream `seed`.
 */
export function fillNormal(out: Float32Array, seed: number, std: number, start = 0): void {
  for (let i = 0; i < out.length; i++) out[i] = normalAt(seed, start + i) * std;
}
