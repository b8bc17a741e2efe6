// attention_backward_dq: gradient of causal grouped-query attention with respect to q, and the
// row sums D that attention_backward_dkdv reads (so this kernel runs first).
//   With S[t,s] = q_t·k_s / sqrt(HS), P = softmax over s <= t (recomputed as exp(S - lse)),
//   out_t = sum_s P[t,s] v_s:
//     dP[t,s] = dout_t·v_s
//     dS[t,s] = P[t,s] (dP[t,s] - sum_s' P[t,s'] dP[t,s']) = P[t,s] (dP[t,s] - D_t),
//       where D_t = sum_s P[t,s] dout_t·v_s = dout_t·out_t
//     dq_t = sum_{s<=t} dS[t,s] k_s / sqrt(HS)
//   dq      [B,T,NH,HS] f32, written with `=`
//   scratch [B,NH,T]    f32, D, written with `=`
//   dout, out, q [B,T,NH,HS] f32;  k, v [B,T,NKV,HS] f32;  lse [B,NH,T] f32
// One invocation per query row, WG consecutive rows of one (b, h) per workgroup (keys loaded in
// lockstep, keys past a lane's row masked). HS <= 128.
struct Params { B: u32, T: u32, NH: u32, NKV: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dq: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> q: array<f32>;
@group(0) @binding(6) var<storage, read> k: array<f32>;
@group(0) @binding(7) var<storage, read> v: array<f32>;
@group(0) @binding(8) var<storage, read> lse: array<f32>;

override WG: u32 = 8;
const MAX_HS: u32 = 128u;

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
  var dor: array<f32, MAX_HS>;
  var acc: array<f32, MAX_HS>;
  let qoff = ((b * p.T + tq) * p.NH + h) * HS;
  var D = 0.0;
  for (var d = 0u; d < HS; d++) {
    qr[d] = q[qoff + d] * scale;
    let o = dout[qoff + d];
    dor[d] = o;
    D += o * out[qoff + d];
    acc[d] = 0.0;
  }
  let L = lse[bh * p.T + tq];
  let send = min(p.T, t0 + WG);
  let kstride = p.NKV * HS;
  let kbase = (b * p.T * p.NKV + g) * HS;
  for (var s = 0u; s < send; s++) {
    let koff = kbase + s * kstride;
    var sc = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < HS; d++) {
      sc += qr[d] * k[koff + d];
      dp += dor[d] * v[koff + d];
    }
    let pe = select(0.0, exp(sc - L), s <= tq);
    let ds = pe * (dp - D);
    for (var d = 0u; d < HS; d++) { acc[d] += ds * k[koff + d]; }
  }
  if (t >= p.T) { return; }
  scratch[bh * p.T + t] = D;
  for (var d = 0u; d < HS; d++) { dq[qoff + d] = acc[d] * scale; }
}
