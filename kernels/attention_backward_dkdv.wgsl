// attention_backward_dkdv: gradients of causal grouped-query attention with respect to k and v.
//   With S[t,s] = q_t·k_s / sqrt(HS), P[t,s] = exp(S[t,s] - lse_t) for s <= t (0 otherwise),
//   dS[t,s] = P[t,s] (dout_t·v_s - D_t) (see attention_backward_dq, which wrote D into scratch):
//     dv_s = sum_{h in group} sum_{t>=s} P[t,s] dout_t
//     dk_s = sum_{h in group} sum_{t>=s} dS[t,s] q_t / sqrt(HS)
//   dk, dv  [B,T,NKV,HS] f32, written with `=`
//   dout, q [B,T,NH,HS] f32;  k, v [B,T,NKV,HS] f32;  lse, scratch [B,NH,T] f32
// One invocation per key row, WG consecutive key rows of one (b, kv head) per workgroup; each loops
// over the group's NH/NKV query heads and the queries t >= the workgroup's first key (queries
// loaded in lockstep, t < s masked). Deterministic, no atomics. HS <= 128.
struct Params { B: u32, T: u32, NH: u32, NKV: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dk: array<f32>;
@group(0) @binding(2) var<storage, read_write> dv: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> q: array<f32>;
@group(0) @binding(5) var<storage, read> k: array<f32>;
@group(0) @binding(6) var<storage, read> v: array<f32>;
@group(0) @binding(7) var<storage, read> lse: array<f32>;
@group(0) @binding(8) var<storage, read> scratch: array<f32>;

override WG: u32 = 8;
const MAX_HS: u32 = 128u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let nsb = (p.T + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.B * p.NKV * nsb) { return; }
  let bg = w / nsb;
  let s0 = (w % nsb) * WG;
  let b = bg / p.NKV;
  let g = bg % p.NKV;
  let rep = p.NH / p.NKV;
  let HS = p.HS;
  let s = s0 + lid;
  let sk = min(s, p.T - 1u);
  let scale = 1.0 / sqrt(f32(HS));

  var kr: array<f32, MAX_HS>;
  var vr: array<f32, MAX_HS>;
  var dka: array<f32, MAX_HS>;
  var dva: array<f32, MAX_HS>;
  let koff = ((b * p.T + sk) * p.NKV + g) * HS;
  for (var d = 0u; d < HS; d++) {
    kr[d] = k[koff + d] * scale;
    vr[d] = v[koff + d];
    dka[d] = 0.0;
    dva[d] = 0.0;
  }
  for (var j = 0u; j < rep; j++) {
    let h = g * rep + j;
    let rowbase = (b * p.NH + h) * p.T;
    for (var t = s0; t < p.T; t++) {
      let qoff = ((b * p.T + t) * p.NH + h) * HS;
      var sc = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HS; d++) {
        sc += kr[d] * q[qoff + d];
        dp += vr[d] * dout[qoff + d];
      }
      let pe = select(0.0, exp(sc - lse[rowbase + t]), t >= sk);
      let ds = pe * (dp - scratch[rowbase + t]);
      for (var d = 0u; d < HS; d++) {
        dva[d] += pe * dout[qoff + d];
        dka[d] += ds * q[qoff + d];
      }
    }
  }
  if (s >= p.T) { return; }
  for (var d = 0u; d < HS; d++) {
    dk[koff + d] = dka[d] * scale;
    dv[koff + d] = dva[d];
  }
}
