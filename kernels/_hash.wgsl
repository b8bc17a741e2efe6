// _hash: snippet (not a kernel) appended by launchers to kernels that draw counter-based random
// numbers (dropout_forward, dropout_backward). hash32 is lowbias32, bit for bit the hash32 of
// src/util/rng.ts: u32 arithmetic wraps mod 2^32 as Math.imul does there.
fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
