// adamw_update_vec4: adamw_update (see there for the math, identical per element) for tensors
// with N % 4 == 0, read and written as vec4s. Each invocation updates PER vec4s (strided by the
// whole dispatch's invocations, so neighbouring lanes touch neighbouring memory) and reads the
// hyperparameters once: on llvmpipe every storage load is a per-invocation loop, so loads are
// what this kernel minimises.
//   params, m, v [N] f32 (as vec4 [N/4]), updated in place
//   grads        [N] f32 (as vec4 [N/4], not modified)
//   hyper        [6] f32: lr, beta1, beta2, eps, bias_correction1, bias_correction2
//   gnorm        [2] f32: [norm, clip coefficient]; negative = skip (see adamw_update)
struct Params { N4: u32, weight_decay: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(4) var<storage, read> grads: array<vec4f>;
@group(0) @binding(5) var<storage, read> hyper: array<f32>;
@group(0) @binding(6) var<storage, read> gnorm: array<f32>;

override WG: u32 = 64;
override PER: u32 = 4;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let first = gid.x + gid.y * nwg.x * WG;
  let stride = (p.N4 + PER - 1u) / PER;
  let clip = gnorm[1];
  if (first >= stride || clip < 0.0) { return; }
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let eps = hyper[3];
  let step = lr / hyper[4];
  let bc2s = sqrt(hyper[5]);
  let decay = 1.0 - lr * p.weight_decay;
  for (var i = first; i < p.N4; i += stride) {
    let g = grads[i] * clip;
    let pd = params[i] * decay;
    let mi = m[i] * beta1 + g * (1.0 - beta1);
    let vi = v[i] * beta2 + (1.0 - beta2) * g * g;
    let denom = sqrt(vi) / bc2s + eps;
    params[i] = pd + -step * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}
