/**
 * Every random number generator of babyllama, in one leaf module (it imports nothing) that the
 * model, data, io and train packages share:
 *
 * - **Counter-based streams**, which the PyTorch fixture tools (tools/) compute identically with
 *   vectorised integer ops: `hash32` is the lowbias32 integer hash (the WGSL kernels use the same
 *   hash, `kernels/_hash.wgsl`); element i of a stream keyed by `seed` is
 *   `hash32((hash32(seed) + i) mod 2^32)`; normals use Box-Muller on elements 2i and 2i+1 in
 *   f64, rounded to f32 by the caller's array.
 * - **{@link Xoshiro128}**, a small seeded generator for batch sampling whose whole state is four
 *   uint32 words, so a checkpoint can save it and a resumed run continues the same stream:
 *   xoshiro128** (Blackman and Vigna), seeded through splitmix32.
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

/** splitmix32 step: the next state and its output, for seeding. */
function _splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [state, (z ^ (z >>> 16)) >>> 0];
}

const _rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * xoshiro128**: a fast 32-bit generator with a 128-bit serialisable state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Xoshiro128 } from "./rng.ts";
 *
 * const rng = Xoshiro128.fromSeed(1337);
 * const a = rng.nextInt(10); // 0..9, unbiased
 * assert.ok(a >= 0 && a < 10);
 * const saved = rng.state();
 * const b = rng.nextU32();
 * assert.equal(Xoshiro128.fromState(saved).nextU32(), b);
 * ```
 */
export class Xoshiro128 {
  #s: Uint32Array;

  private constructor(s: Uint32Array) {
    this.#s = s;
  }

  /**
   * A generator seeded from an integer (any safe integer; the low 53 bits are mixed in), and an
   * optional stream number so one seed gives independent streams (e.g. per data split).
   *
   * @throws {RangeError} when seed or stream is not a safe integer
   */
  static fromSeed(seed: number, stream = 0): Xoshiro128 {
    for (const [k, v] of [["seed", seed], ["stream", stream]] as const) {
      if (!Number.isSafeInteger(v)) {
        throw new RangeError(`Cannot seed the generator: ${k} must be a safe integer, got ${v}`);
      }
    }
    let st = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x632be5ab);
    const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
    const s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      let out;
      [st, out] = _splitmix32(st ^ (i === 1 ? hi : 0));
      s[i] = out;
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    return new Xoshiro128(s);
  }

  /**
   * A generator continuing from a saved {@link Xoshiro128.state}.
   *
   * @throws {TypeError} unless `state` is four uint32 numbers, not all zero
   */
  static fromState(state: readonly number[]): Xoshiro128 {
    if (
      !Array.isArray(state) || state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
    ) {
      throw new TypeError(
        `Cannot restore the generator: state must be four uint32 numbers, got ${
          JSON.stringify(state)
        }`,
      );
    }
    if (state.every((v) => v === 0)) {
      throw new TypeError("Cannot restore the generator: an all-zero state is invalid");
    }
    return new Xoshiro128(Uint32Array.from(state));
  }

  /** The whole state as four uint32 numbers (JSON-friendly). */
  state(): number[] {
    return Array.from(this.#s);
  }

  /** A copy of this generator (same state, independent from now on). */
  clone(): Xoshiro128 {
    return new Xoshiro128(this.#s.slice());
  }

  /** Next uniform uint32. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(_rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = _rotl(s[3], 11);
    return result;
  }

  /** Next uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6; // 27 + 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Next uniform integer in [0, n), without modulo bias (rejection sampling).
   *
   * @param n bound, an integer in [1, 2^53]
   * @throws {RangeError} when n is out of range
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 9007199254740992) {
      throw new RangeError(`Cannot draw an integer below ${n}: n must be an integer in [1, 2^53]`);
    }
    if (n <= 4294967296) {
      const limit = 4294967296 - (4294967296 % n); // largest multiple of n <= 2^32
      for (;;) {
        const r = this.nextU32();
        if (r < limit) return r % n;
      }
    }
    const limit = 9007199254740992 - (9007199254740992 % n);
    for (;;) {
      const r = (this.nextU32() >>> 11) * 4294967296 + this.nextU32(); // 53 bits
      if (r < limit) return r % n;
    }
  }
}
