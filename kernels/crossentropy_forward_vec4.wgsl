// crossentropy_forward_vec4: crossentropy_forward (same outputs) for V % 4 == 0, reading each row
// once as vec4s with an online log-sum-exp: each lane keeps a running max m and sum s per vec4
// component (s <- s * exp(m - m') + exp(x - m')), then components and lanes are combined
// ((m1, s1) + (m2, s2) = (m, s1 exp(m1 - m) + s2 exp(m2 - m))) through workgroup memory. On
// llvmpipe one storage load costs far more than two exps, so one pass beats max-then-sum.
//   losses  [R]   f32, written with `=` (0 for targets < 0; NaN for a target >= V)
//   lse     [R]   f32, written with `=` (0 for ignored rows)
//   logits  [R,V] f32 (as vec4 [R, V/4])
//   targets [R]   i32
// One workgroup per row; WG a power of two. Ignored rows and the final write:
// kernels/_crossentropy_row.wgsl (appended by the launcher).
struct Params { R: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<vec4f>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;

override WG: u32 = 8;
const MAX_WG: u32 = 256u;
const NEG: f32 = -3.0e38;
var<workgroup> red_m: array<f32, MAX_WG>;
var<workgroup> red_s: array<f32, MAX_WG>;

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
  let V4 = p.V / 4u;
  let base = r * V4;
  var m4 = vec4f(NEG);
  var s4 = vec4f(0.0);
  for (var j = lid; j < V4; j += WG) {
    let x = logits[base + j];
    let mn = max(m4, x);
    s4 = s4 * exp(m4 - mn) + exp(x - mn);
    m4 = mn;
  }
  let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  red_m[lid] = m;
  red_s[lid] = dot(s4, exp(m4 - vec4f(m)));
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (lid < k) {
      let m1 = red_m[lid];
      let m2 = red_m[lid + k];
      let mm = max(m1, m2);
      red_s[lid] = red_s[lid] * exp(m1 - mm) + red_s[lid + k] * exp(m2 - mm);
      red_m[lid] = mm;
    }
  }
  if (lid == 0u) {
    let t = u32(tg);
    let tc = min(t, p.V - 1u);
    writeRow(r, red_m[0] + log(red_s[0]), logits[base + tc / 4u][tc % 4u], t);
  }
}
