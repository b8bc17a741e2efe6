// residual_rmsnorm_forward: a residual add and the RMSNorm that follows it, in one pass over each
// row (the block's `xm = x + proj; xn2 = rmsnorm(xm)` and `x' = xm + proj; xn1' = rmsnorm(x')`).
//   res    [N, C] f32, written with `=`: res = inp1 + inp2 (the residual stream)
//   out    [N, C] f32, written with `=`: out[n, c] = res[n, c] * rstd[n] * weight[c]
//   rstd   [N]    f32, written with `=`: rstd[n] = 1 / sqrt(mean_c(res[n, c]^2) + eps)
//   inp1   [N, C] f32
//   inp2   [N, C] f32
//   weight [C]    f32
// The same operations in the same order as residual_forward then rmsnorm_forward, so the same
// bits. Backward: rmsnorm_backward adds (`+=`) d res into the residual-stream gradient, which is
// both inputs' gradient: no kernel. One invocation per row.
struct Params { N: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> res: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp1: array<f32>;
@group(0) @binding(5) var<storage, read> inp2: array<f32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= p.N) { return; }
  let row = n * p.C;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let x = inp1[row + c] + inp2[row + c];
    res[row + c] = x;
    ss = fma(x, x, ss);
  }
  let r = 1.0 / sqrt(ss / f32(p.C) + p.eps);
  rstd[n] = r;
  for (var c = 0u; c < p.C; c++) {
    out[row + c] = (inp1[row + c] + inp2[row + c]) * r * weight[c];
  }
}
