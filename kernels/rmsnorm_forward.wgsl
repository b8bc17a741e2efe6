// rmsnorm_forward: RMSNorm of each row (llama2.c's model.py RMSNorm), keeping 1/rms for backward.
//   out    [N, C] f32, written with `=`
//   rstd   [N]    f32, written with `=`: rstd[n] = 1 / sqrt(mean_c(inp[n, c]^2) + eps)
//   inp    [N, C] f32
//   weight [C]    f32
// out[n, c] = inp[n, c] * rstd[n] * weight[c].
// One invocation per row (the sums run in order, as in the f64 reference's loop).
struct Params { N: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= p.N) { return; }
  let row = n * p.C;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let x = inp[row + c];
    ss = fma(x, x, ss);
  }
  let r = 1.0 / sqrt(ss / f32(p.C) + p.eps);
  rstd[n] = r;
  for (var c = 0u; c < p.C; c++) {
    out[row + c] = inp[row + c] * r * weight[c];
  }
}
