/**
 * f64 reference of the residual add (test oracle).
 *
 * @module
 */

/** `out = inp1 + inp2`. */
export function residualForward(inp1: ArrayLike<number>, inp2: ArrayLike<number>): Float64Array {
  const out = new Float64Array(inp1.length);
  for (let i = 0; i < out.length; i++) out[i] = inp1[i] + inp2[i];
  return out;
}
