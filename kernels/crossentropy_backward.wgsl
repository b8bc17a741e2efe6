// crossentropy_backward: gradient of the mean cross-entropy with respect to the logits, in place.
//   With loss_r = lse_r - x[r, y_r] and dloss the trainer's scale (1 / count of non-ignored
//   targets / grad accumulation steps): d loss_r / d x[r, j] = softmax(x_r)[j] - [j == y_r], so
//   logits[r, j] = (exp(logits[r, j] - lse[r]) - [j == targets[r]]) * dloss[0]
//   and rows with targets[r] < 0 become 0.
//   logits  [R,V] f32, read and overwritten with dlogits (`=`)
//   lse     [R]   f32 (from crossentropy_forward)
//   targets [R]   i32
//   dloss   [1]   f32
//   loss    [1]   f32, written with `=` when M > 0: the mean loss, as loss_mean
//   losses  [M]   f32 (every row's loss, all chunks)
//   scale   [1]   f32 (1 / count of non-ignored targets)
// One workgroup per row, lanes striding over the row. No barriers. When M > 0 one more workgroup
// (the last chunk's, whose forward has written the last losses) writes
// loss[0] = sum(losses[0..M]) * scale[0] with loss_mean's bits (kernels/_loss_mean.wgsl, appended
// by the launcher), saving the loss_mean dispatch.
struct Params { R: u32, V: u32, M: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
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
  let base = r * p.V;
  if (tg < 0) {
    for (var j = lid; j < p.V; j += WG) { logits[base + j] = 0.0; }
    return;
  }
  let l = lse[r];
  let scale = dloss[0];
  let t = u32(tg);
  for (var j = lid; j < p.V; j += WG) {
    let pr = exp(logits[base + j] - l);
    logits[base + j] = (pr - select(0.0, 1.0, j == t)) * scale;
  }
}
