// rmsnorm_backward_dweight: gradient of rmsnorm_forward with respect to its weight, accumulated.
//   dweight [C]    f32, written with `+=`
//   dout    [N, C] f32
//   inp     [N, C] f32
//   rstd    [N]    f32 (saved by rmsnorm_forward)
// Derivation: y[n, c] = w_c x[n, c] r[n], so dL/dw_c = sum_n dout[n, c] x[n, c] r[n].
// No float atomics: one invocation per column c sums over all N rows in order (deterministic).
struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let i = n * p.C + c;
    s = fma(dout[i] * inp[i], rstd[n], s);
  }
  dweight[c] = dweight[c] + s;
}
