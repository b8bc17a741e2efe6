// swiglu_packed_forward: the gate of llama2.c's FeedForward, out = silu(h1) * h3, reading h1 and
// h3 side by side from the fused W1|W3 matmul's output (row n of h13 is [h1[n, :] | h3[n, :]]).
//   out [N, H]  f32, written with `=`: out[n, c] = silu(h13[n, c]) * h13[n, H + c]
//   h13 [N, 2H] f32 (xn · [w1; w3]ᵀ)
// silu(x) = x * sigmoid(x) = x / (1 + exp(-x)), the same expression as swiglu_forward.
// One invocation per output element.
struct Params { N: u32, H: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> h13: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.H) { return; }
  let j = i + (i / p.H) * p.H; // h1[n, c] at n*2H + c
  let x = h13[j];
  out[i] = x / (1.0 + exp(-x)) * h13[j + p.H];
}
