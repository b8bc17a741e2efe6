// matmul_backward_dinp_scalar: dinp = dout · weight for shapes the vec4 kernel cannot take (C or
// OC not a multiple of 4). One output per invocation.
//   dinp   [N, C]  f32, written with `=`, or `+=` when Params.accumulate != 0
//   dout   [N, OC] f32
//   weight [OC, C] f32
// From out[n, o] = sum_k inp[n, k] weight[o, k]: d inp[n, k] = sum_o dout[n, o] weight[o, k].
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let k = i % p.C;
  var acc = 0.0;
  for (var o = 0u; o < p.OC; o++) {
    acc += dout[n * p.OC + o] * weight[o * p.C + k];
  }
  if (p.accumulate != 0u) { acc += dinp[i]; }
  dinp[i] = acc;
}
