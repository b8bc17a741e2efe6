// global_norm_final: second pass of the global gradient norm, and torch's clip_grad_norm_
// coefficient.
//   out[0] = sqrt(sum_{w < M} partials[w])
//   out[1] = clip > 0 ? min(1, clip / (out[0] + 1e-6)) : 1
//   out      [2] f32, written with `=`
//   partials [M] f32 (from global_norm_partial)
// One workgroup; lanes sum strided partials, then a tree (WG a power of two). Deterministic.
struct Params { M: u32, clip: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> partials: array<f32>;

override WG: u32 = 64;
const MAX_WG: u32 = 256u;
var<workgroup> red: array<f32, MAX_WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.M; i += WG) { s += partials[i]; }
  red[lid] = s;
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (lid < k) { red[lid] += red[lid + k]; }
  }
  if (lid == 0u) {
    let n = sqrt(red[0]);
    out[0] = n;
    out[1] = select(1.0, min(1.0, p.clip / (n + 1e-6)), p.clip > 0.0);
  }
}
