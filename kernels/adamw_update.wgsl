// adamw_update: one AdamW step on one tensor, exactly torch.optim.AdamW's (1.13,
// _single_tensor_adamw) math and operation order, with the gradient scaled by the clip
// coefficient of global_norm_final (torch's clip_grad_norm_ multiplies the grads first).
//   g       = grads[i] * gnorm[1]
//   params *= 1 - lr * weight_decay                       (decoupled weight decay)
//   m       = m * beta1 + (1 - beta1) * g
//   v       = v * beta2 + (1 - beta2) * g * g
//   denom   = sqrt(v) / sqrt(bias_correction2) + eps
//   params -= (lr / bias_correction1) * (m / denom)
//   params, m, v [N] f32, updated in place
//   grads        [N] f32 (not modified)
//   hyper        [6] f32: lr, beta1, beta2, eps, bias_correction1, bias_correction2
//                         (bias_correction_k = 1 - beta_k^step, written by the trainer each step)
//   gnorm        [2] f32: [norm, clip coefficient]; a negative coefficient (step_guard's mark of
//                         a step with a non-finite loss or gradient) skips the update: params, m
//                         and v are left as they are
// One invocation per element.
struct Params { N: u32, weight_decay: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grads: array<f32>;
@group(0) @binding(5) var<storage, read> hyper: array<f32>;
@group(0) @binding(6) var<storage, read> gnorm: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let clip = gnorm[1];
  if (i >= p.N || clip < 0.0) { return; }
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let eps = hyper[3];
  let g = grads[i] * clip;
  let pd = params[i] * (1.0 - lr * p.weight_decay);
  let mi = m[i] * beta1 + g * (1.0 - beta1);
  let vi = v[i] * beta2 + (1.0 - beta2) * g * g;
  let denom = sqrt(vi) / sqrt(hyper[5]) + eps;
  params[i] = pd + -(lr / hyper[4]) * (mi / denom);
  m[i] = mi;
  v[i] = vi;
}
