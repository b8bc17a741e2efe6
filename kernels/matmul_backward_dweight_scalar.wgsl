// matmul_backward_dweight_scalar: dweight += doutᵀ · inp for shapes the vec4 kernel cannot take
// (C or OC not a multiple of 4). One output per invocation, summed over n in order.
//   dweight [OC, C] f32, written with `+=` (gradient accumulation)
//   dout    [N, OC] f32
//   inp     [N, C]  f32
// From out[n, o] = sum_k inp[n, k] weight[o, k]: d weight[o, k] = sum_n dout[n, o] inp[n, k].
struct Params { N: u32, C: u32, OC: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.OC * p.C) { return; }
  let o = i / p.C;
  let k = i % p.C;
  var acc = 0.0;
  for (var n = 0u; n < p.N; n++) {
    acc += dout[n * p.OC + o] * inp[n * p.C + k];
  }
  dweight[i] += acc;
}
