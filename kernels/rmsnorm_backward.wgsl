// rmsnorm_backward: gradient of rmsnorm_forward with respect to its input, added into the
// residual-stream gradient.
//   dinp   [N, C] f32, written with `+=`
//   dout   [N, C] f32
//   inp    [N, C] f32
//   weight [C]    f32
//   rstd   [N]    f32 (saved by rmsnorm_forward)
// Derivation: y_c = w_c x_c r with r = (mean_c x_c^2 + eps)^(-1/2), so dr/dx_k = -r^3 x_k / C and
//   dL/dx_k = dout_k w_k r + sum_c dout_c w_c x_c (-r^3 x_k / C)
//           = r (dout_k w_k - x_k r^2 / C * sum_c dout_c w_c x_c).
// One invocation per row. The weight gradient is rmsnorm_backward_dweight.
struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= p.N) { return; }
  let row = n * p.C;
  let r = rstd[n];
  var dot = 0.0;
  for (var c = 0u; c < p.C; c++) {
    dot = fma(dout[row + c] * weight[c], inp[row + c], dot);
  }
  let k = r * r * dot / f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    let i = row + c;
    dinp[i] = dinp[i] + r * (dout[i] * weight[c] - inp[i] * k);
  }
}
