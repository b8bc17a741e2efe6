// swiglu_packed_backward: gradient of swiglu_packed_forward (out = silu(h1) * h3, h1 and h3 side
// by side in each row of h13), written side by side into dh13 for the fused W1|W3 matmul's
// backward.
//   dh13 [N, 2H] f32, written with `=`: row n is [dh1[n, :] | dh3[n, :]]
//   dout [N, H]  f32
//   h13  [N, 2H] f32
// Derivation (as swiglu_backward): with s = sigmoid(h1), silu(h1) = h1 s and
// d silu/d h1 = s + h1 s (1 - s), so dh1 = dout * h3 * s * (1 + h1 * (1 - s)), dh3 = dout * h1 * s.
// One invocation per element of dout.
struct Params { N: u32, H: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dh13: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> h13: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.H) { return; }
  let j = i + (i / p.H) * p.H; // h1[n, c] at n*2H + c
  let x = h13[j];
  let d = dout[i];
  let s = 1.0 / (1.0 + exp(-x));
  dh13[j] = d * h13[j + p.H] * s * (1.0 + x * (1.0 - s));
  dh13[j + p.H] = d * x * s;
}
