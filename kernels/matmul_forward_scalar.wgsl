// matmul_forward_scalar: out = inp · weightᵀ for shapes the vec4 kernel cannot take (C or OC not a
// multiple of 4, e.g. a vocabulary of 67). Slow and simple: one output per invocation.
//   out    [N, OC] f32, written with `=`, or `+=` when Params.accumulate != 0
//   inp    [N, C]  f32
//   weight [OC, C] f32
// out[n, o] = sum_k inp[n, k] * weight[o, k], summed in order of k.
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.OC) { return; }
  let n = i / p.OC;
  let o = i % p.OC;
  var acc = 0.0;
  for (var k = 0u; k < p.C; k++) {
    acc += inp[n * p.C + k] * weight[o * p.C + k];
  }
  if (p.accumulate != 0u) { acc += out[i]; }
  out[i] = acc;
}
