// rmsnorm_decode: RMSNorm of one row (a decode step), one workgroup.
//   out    [C] f32, written with `=`
//   inp    [C] f32
//   weight [C] f32
// out[c] = inp[c] * rsqrt(mean(inp^2) + eps) * weight[c] (model.py's RMSNorm, in f32).
struct Params { C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

const WG = 64u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  var s = 0.0;
  for (var i = t; i < p.C; i += WG) {
    let v = inp[i];
    s = fma(v, v, s);
  }
  red[t] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  let rstd = inverseSqrt(red[0] / f32(p.C) + p.eps);
  for (var i = t; i < p.C; i += WG) { out[i] = inp[i] * rstd * weight[i]; }
}
