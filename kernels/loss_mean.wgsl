// loss_mean: the scaled sum of per-row losses, for logging the mean loss.
//   loss[0] = sum_{i < N} losses[i] * scale[0]
//   loss   [1] f32, written with `=`
//   losses [N] f32
//   scale  [1] f32 (the trainer writes 1 / count of non-ignored targets)
// One workgroup: lanes sum strided slices, then a tree through workgroup memory (WG a power of
// two). Deterministic.
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read> losses: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;

override WG: u32 = 64;
const MAX_WG: u32 = 256u;
var<workgroup> red: array<f32, MAX_WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < p.N; i += WG) { sum += losses[i]; }
  red[lid] = sum;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red[lid] += red[lid + s]; }
  }
  if (lid == 0u) { loss[0] = red[0] * scale[0]; }
}
