// rope_qkv_backward: gradient of rope_qkv_forward, written into the fused QKV matmul's output
// gradient. The forward rotates each q and k pair by R(a) = [[c, -s], [s, c]] (a = t * freq_i,
// t = n % T) and copies v, so (as rope_backward) the q and k pairs rotate back by R(a)ᵀ = R(-a)
// and v's gradient is copied:
//   dqkv[n, h*HS + 2i]     =  g0 * cos[t,i] + g1 * sin[t,i]
//   dqkv[n, h*HS + 2i + 1] = -g0 * sin[t,i] + g1 * cos[t,i]
// (g0, g1 = dq[n, h, 2i], dq[n, h, 2i+1] for the first NH heads, then dk's NKV heads), and
// dqkv[n, C+KV:] = dv[n, :].
//   dqkv      [B*T, C+2KV] f32, written with `=` (C = NH*HS, KV = NKV*HS)
//   dq        [B,T,NH,HS]  f32
//   dk        [B,T,NKV,HS] f32
//   dv        [B,T,NKV,HS] f32
//   freqs_cos [T,HS/2]     f32
//   freqs_sin [T,HS/2]     f32
// One invocation per pair of a dqkv row. HS is even.
struct Params { B: u32, T: u32, NH: u32, NKV: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(2) var<storage, read> dq: array<f32>;
@group(0) @binding(3) var<storage, read> dk: array<f32>;
@group(0) @binding(4) var<storage, read> dv: array<f32>;
@group(0) @binding(5) var<storage, read> freqs_cos: array<f32>;
@group(0) @binding(6) var<storage, read> freqs_sin: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  let half = p.HS / 2u;
  let C = p.NH * p.HS;
  let KV = p.NKV * p.HS;
  let P = C / 2u + KV; // pairs per row
  if (j >= p.B * p.T * P) { return; }
  let n = j / P;
  let col = 2u * (j % P);
  let o = n * (C + 2u * KV) + col;
  if (col >= C + KV) {
    let src = n * KV + col - C - KV;
    dqkv[o] = dv[src];
    dqkv[o + 1u] = dv[src + 1u];
    return;
  }
  let t = n % p.T;
  let i = (col / 2u) % half;
  let c = freqs_cos[t * half + i];
  let s = freqs_sin[t * half + i];
  var g0: f32;
  var g1: f32;
  if (col < C) {
    g0 = dq[n * C + col];
    g1 = dq[n * C + col + 1u];
  } else {
    g0 = dk[n * KV + col - C];
    g1 = dk[n * KV + col - C + 1u];
  }
  dqkv[o] = g0 * c + g1 * s;
  dqkv[o + 1u] = g1 * c - g0 * s;
}
