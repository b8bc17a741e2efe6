// dropout_forward: inverted dropout with a counter-based mask (no mask buffer is stored).
//   out  [N] f32, written with `=`: out[i] = keep(i) ? inp[i] * scale : 0
//   inp  [N] f32
//   seed [1] u32, rewritten by the trainer each step
// keep(i) = hash32(hash32(seed[0] ^ salt) + i) >= threshold, with hash32 the lowbias32 hash of
// src/util/rng.ts (kernels/_hash.wgsl, appended by the launcher), threshold = floor(p * 2^32)
// and scale = 1 / (1 - p) (Params). u32 arithmetic wraps mod 2^32, as Math.imul in the
// TypeScript version.
struct Params { N: u32, threshold: u32, scale: f32, salt: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> seed: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N) { return; }
  let keep = hash32(hash32(seed[0] ^ p.salt) + i) >= p.threshold;
  out[i] = select(0.0, inp[i] * p.scale, keep);
}
