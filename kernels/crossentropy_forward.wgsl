// crossentropy_forward: per-row softmax cross-entropy of logits against integer targets.
//   lse[r]    = log sum_j exp(logits[r, j])          (saved for crossentropy_backward)
//   losses[r] = lse[r] - logits[r, targets[r]]; 0 when targets[r] < 0 (ignored row, lse = 0)
//   losses  [R]   f32, written with `=`
//   lse     [R]   f32, written with `=`
//   logits  [R,V] f32
//   targets [R]   i32 (a target >= V gives a NaN loss, so the mistake shows)
// One workgroup per row: each lane reduces a strided slice (max, then sum of exp(x - max)), and
// the lanes combine through workgroup memory (a tree of log2(WG) barriers; WG a power of two).
// Ignored rows and the final write: kernels/_crossentropy_row.wgsl (appended by the launcher).
struct Params { R: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;

override WG: u32 = 8;
const MAX_WG: u32 = 256u;
var<workgroup> red: array<f32, MAX_WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.R) { return; }
  let tg = targets[r];
  if (tg < 0) {
    ignoreRow(r, lid);
    return;
  }
  let base = r * p.V;
  var m = -3.0e38;
  for (var j = lid; j < p.V; j += WG) { m = max(m, logits[base + j]); }
  red[lid] = m;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
  }
  workgroupBarrier();
  m = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var j = lid; j < p.V; j += WG) { sum += exp(logits[base + j] - m); }
  red[lid] = sum;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red[lid] += red[lid + s]; }
  }
  if (lid == 0u) {
    let t = u32(tg);
    writeRow(r, m + log(red[0]), logits[base + min(t, p.V - 1u)], t);
  }
}
