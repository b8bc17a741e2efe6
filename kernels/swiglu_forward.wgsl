// swiglu_forward: the gate of llama2.c's FeedForward, out = silu(h1) * h3, elementwise.
//   out [N] f32, written with `=`
//   h1  [N] f32 (w1 · x)
//   h3  [N] f32 (w3 · x)
// silu(x) = x * sigmoid(x) = x / (1 + exp(-x)).
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> h1: array<f32>;
@group(0) @binding(3) var<storage, read> h3: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N) { return; }
  let x = h1[i];
  out[i] = x / (1.0 + exp(-x)) * h3[i];
}
