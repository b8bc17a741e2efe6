// rope_qkv_forward: RoPE of q and k read from the fused QKV matmul's output, and v copied out, in
// one pass. Row n of qkv is [q | k | v] = [NH heads | NKV heads | NKV heads] of HS floats; each
// pair (2i, 2i+1) of a q or k head at position t = n % T is rotated by the angle t * freq_i
// exactly as rope_forward does:
//   q[n, h, 2i]   = x0 * cos[t,i] - x1 * sin[t,i],   q[n, h, 2i+1] = x0 * sin[t,i] + x1 * cos[t,i]
// (x0, x1 = qkv[n, h*HS + 2i], qkv[n, h*HS + 2i + 1]; likewise k), and v[n, :] = qkv[n, C+KV:].
//   q         [B,T,NH,HS]  f32, written with `=`
//   k         [B,T,NKV,HS] f32, written with `=`
//   v         [B,T,NKV,HS] f32, written with `=`
//   qkv       [B*T, C+2KV] f32 (C = NH*HS, KV = NKV*HS)
//   freqs_cos [T,HS/2]     f32
//   freqs_sin [T,HS/2]     f32
// One invocation per pair of a qkv row. HS is even.
struct Params { B: u32, T: u32, NH: u32, NKV: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
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
  let x0 = qkv[n * (C + 2u * KV) + col];
  let x1 = qkv[n * (C + 2u * KV) + col + 1u];
  if (col >= C + KV) {
    let o = n * KV + col - C - KV;
    v[o] = x0;
    v[o + 1u] = x1;
    return;
  }
  let t = n % p.T;
  let i = (col / 2u) % half;
  let c = freqs_cos[t * half + i];
  let s = freqs_sin[t * half + i];
  if (col < C) {
    let o = n * C + col;
    q[o] = x0 * c - x1 * s;
    q[o + 1u] = x0 * s + x1 * c;
  } else {
    let o = n * KV + col - C;
    k[o] = x0 * c - x1 * s;
    k[o + 1u] = x0 * s + x1 * c;
  }
}
