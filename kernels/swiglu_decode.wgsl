// swiglu_decode: the FFN gate of one decode step, elementwise.
//   out [N] f32, written with `=`
//   h1  [N] f32 (xn · w1ᵀ)
//   h3  [N] f32 (xn · w3ᵀ)
// out[i] = silu(h1[i]) * h3[i], silu(x) = x / (1 + exp(-x)).
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> h1: array<f32>;
@group(0) @binding(3) var<storage, read> h3: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.N) { return; }
  let a = h1[i];
  out[i] = a / (1.0 + exp(-a)) * h3[i];
}
