// crossentropy_forward_subgroup: crossentropy_forward_vec4 (same outputs) with the lanes combined
// by subgroup operations instead of a tree of barriers; needs the device feature `subgroups`.
//   losses  [R]   f32, written with `=` (0 for targets < 0; NaN for a target >= V)
//   lse     [R]   f32, written with `=` (0 for ignored rows)
//   logits  [R,V] f32 (as vec4 [R, V/4])
//   targets [R]   i32
// One workgroup of WG invocations per row; ignored rows and the final write:
// kernels/_crossentropy_row.wgsl (appended by the launcher). Each lane keeps an online log-sum-exp (running max m
// and sum s per vec4 component) over a strided slice of the row; then each subgroup combines
// its lanes ((m1, s1) + (m2, s2) = (m, s1 exp(m1 - m) + s2 exp(m2 - m)), with m the subgroup
// max from subgroupMax and the sum from subgroupAdd), its first lane writes the pair to
// workgroup memory, and lane 0 combines the subgroups in order. Subgroup k is taken to hold
// invocations k * subgroup_size .. (k + 1) * subgroup_size - 1 (true of the drivers we know; a
// driver that differs gives wrong sums, which the tests and the tuner's check would catch).
// (No `enable subgroups;`: Deno 2.9's WGSL front end rejects it, and accepts the built-ins once
// the device has the feature.)
struct Params { R: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<vec4f>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;

override WG: u32 = 256;
const NEG: f32 = -3.0e38;
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sgl: u32,
  @builtin(subgroup_size) sgs: u32,
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
  let s = dot(s4, exp(m4 - vec4f(m)));
  let gm = subgroupMax(m);
  let gs = subgroupAdd(s * exp(m - gm));
  if (sgl == 0u) {
    red_m[lid / sgs] = gm;
    red_s[lid / sgs] = gs;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var mm = red_m[0];
    var ss = red_s[0];
    for (var k = 1u; k < (WG + sgs - 1u) / sgs; k++) {
      let m2 = red_m[k];
      let mx = max(mm, m2);
      ss = ss * exp(mm - mx) + red_s[k] * exp(m2 - mx);
      mm = mx;
    }
    let t = u32(tg);
    let x = logits[base + min(t, p.V - 1u) / 4u][min(t, p.V - 1u) % 4u];
    writeRow(r, mm + log(ss), x, t);
  }
}
