// swiglu_backward: gradient of swiglu_forward (out = silu(h1) * h3) with respect to h1 and h3.
//   dh1  [N] f32, written with `=`
//   dh3  [N] f32, written with `=`
//   dout [N] f32
//   h1   [N] f32
//   h3   [N] f32
// Derivation: with s = sigmoid(h1), silu(h1) = h1 s and d silu/d h1 = s + h1 s (1 - s), so
//   dh1 = dout * h3 * s * (1 + h1 * (1 - s)),   dh3 = dout * h1 * s.
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dh1: array<f32>;
@group(0) @binding(2) var<storage, read_write> dh3: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> h1: array<f32>;
@group(0) @binding(5) var<storage, read> h3: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N) { return; }
  let x = h1[i];
  let d = dout[i];
  let s = 1.0 / (1.0 + exp(-x));
  dh1[i] = d * h3[i] * s * (1.0 + x * (1.0 - s));
  dh3[i] = d * x * s;
}
