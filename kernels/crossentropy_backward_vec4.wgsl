// crossentropy_backward_vec4: crossentropy_backward (see there for the derivation) for
// V % 4 == 0, reading and writing the logits as vec4s, in place:
//   logits[r, j] = (exp(logits[r, j] - lse[r]) - [j == targets[r]]) * dloss[0]; 0 if targets[r] < 0
//   logits  [R,V] f32 (as vec4 [R, V/4]), read and overwritten with dlogits (`=`)
//   lse     [R]   f32;  targets [R] i32;  dloss [1] f32
//   loss    [1]   f32, written with `=` when M > 0;  losses [M] f32;  scale [1] f32
// One workgroup per row, lanes striding over the row. No barriers. When M > 0 one more workgroup
// writes loss[0] = sum(losses[0..M]) * scale[0] (kernels/_loss_mean.wgsl, appended).
struct Params { R: u32, V: u32, M: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<vec4f>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read> losses: array<f32>;
@group(0) @binding(7) var<storage, read> scale: array<f32>;

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = wid.x + wid.y * nwg.x;
  if (r == p.R && p.M > 0u) {
    if (lid == 0u) { lossMeanInOneLane(); }
    return;
  }
  if (r >= p.R) { return; }
  let tg = targets[r];
  let V4 = p.V / 4u;
  let base = r * V4;
  if (tg < 0) {
    for (var j = lid; j < V4; j += WG) { logits[base + j] = vec4f(0.0); }
    return;
  }
  let l = lse[r];
  let scale = dloss[0];
  let t = vec4u(u32(tg));
  for (var j = lid; j < V4; j += WG) {
    let idx = vec4u(4u * j) + vec4u(0u, 1u, 2u, 3u);
    let pr = exp(logits[base + j] - vec4f(l));
    logits[base + j] = (pr - select(vec4f(0.0), vec4f(1.0), idx == t)) * scale;
  }
}
