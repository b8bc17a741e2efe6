// dropout_backward: gradient of dropout_forward, recomputing the same counter-based mask.
//   dinp [N] f32, written with `=`: dinp[i] = keep(i) ? dout[i] * scale : 0
//   dout [N] f32
//   seed [1] u32 (the value dropout_forward used this step)
// Derivation: out[i] = keep(i) * scale * inp[i], so dL/dinp[i] = keep(i) * scale * dout[i].
// keep(i) = hash32(hash32(seed[0] ^ salt) + i) >= threshold exactly as in dropout_forward
// (hash32: kernels/_hash.wgsl, appended by the launcher).
struct Params { N: u32, threshold: u32, scale: f32, salt: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> seed: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N) { return; }
  let keep = hash32(hash32(seed[0] ^ p.salt) + i) >= p.threshold;
  dinp[i] = select(0.0, dout[i] * p.scale, keep);
}
