// attention_forward: causal grouped-query attention, flash-style (online softmax, no T x T matrix).
//   out[b,t,h,:] = sum_{s<=t} P[t,s] v[b,s,g,:],  P[t,:] = softmax_s(q[b,t,h,:]·k[b,s,g,:] / sqrt(HS))
//   lse[b,h,t]   = log sum_{s<=t} exp(q·k / sqrt(HS))   (saved for the backward)
//   where g = h / (NH / NKV) is the kv head of query head h (llama2.c's repeat_kv).
//   out [B,T,NH,HS] f32, written with `=`
//   lse [B,NH,T]    f32, written with `=`
//   q   [B,T,NH,HS] f32
//   k   [B,T,NKV,HS] f32
//   v   [B,T,NKV,HS] f32
// One invocation per query row; a workgroup holds WG consecutive rows t of one (b, h), so every
// lane loads the same key/value row at the same time, and loops to the workgroup's last row with
// keys s > t masked out. Keys are taken KB at a time: one rescale of the accumulator per block.
// HS <= 128.
struct Params { B: u32, T: u32, NH: u32, NKV: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;

override WG: u32 = 8;
const MAX_HS: u32 = 128u;
const NEG: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let ntb = (p.T + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.B * p.NH * ntb) { return; }
  let bh = w / ntb;
  let t0 = (w % ntb) * WG;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let g = h / (p.NH / p.NKV);
  let HS = p.HS;
  let t = t0 + lid;
  let tq = min(t, p.T - 1u);
  let scale = 1.0 / sqrt(f32(HS));

  var qr: array<f32, MAX_HS>;
  var acc: array<f32, MAX_HS>;
  let qoff = ((b * p.T + tq) * p.NH + h) * HS;
  for (var d = 0u; d < HS; d++) {
    qr[d] = q[qoff + d] * scale;
    acc[d] = 0.0;
  }
  var m = NEG;
  var l = 0.0;
  let send = min(p.T, t0 + WG);
  let kstride = p.NKV * HS;
  let kbase = (b * p.T * p.NKV + g) * HS;
  for (var s = 0u; s < send; s++) {
    let koff = kbase + s * kstride;
    var sc = 0.0;
    for (var d = 0u; d < HS; d++) { sc += qr[d] * k[koff + d]; }
    let valid = s <= tq;
    let mn = select(m, max(m, sc), valid);
    let corr = exp(m - mn);
    let pe = select(0.0, exp(sc - mn), valid);
    l = l * corr + pe;
    for (var d = 0u; d < HS; d++) { acc[d] = acc[d] * corr + pe * v[koff + d]; }
    m = mn;
  }
  if (t >= p.T) { return; }
  lse[bh * p.T + t] = m + log(l);
  let inv = 1.0 / l;
  for (var d = 0u; d < HS; d++) { out[qoff + d] = acc[d] * inv; }
}
