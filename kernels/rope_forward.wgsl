// rope_forward: rotary position embedding exactly as llama2.c model.py's apply_rotary_emb: each
// pair (2i, 2i+1) of every head at position t is rotated by the angle t * freq_i.
//   out[b,t,h,2i]   = inp[b,t,h,2i] * cos[t,i] - inp[b,t,h,2i+1] * sin[t,i]
//   out[b,t,h,2i+1] = inp[b,t,h,2i] * sin[t,i] + inp[b,t,h,2i+1] * cos[t,i]
//   out       [B,T,NH,HS] f32, written with `=` (may not alias inp)
//   inp       [B,T,NH,HS] f32
//   freqs_cos [T,HS/2]    f32
//   freqs_sin [T,HS/2]    f32
// One invocation per pair. HS is even.
struct Params { B: u32, T: u32, NH: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> freqs_cos: array<f32>;
@group(0) @binding(4) var<storage, read> freqs_sin: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  let half = p.HS / 2u;
  if (j >= p.B * p.T * p.NH * half) { return; }
  let i = j % half;
  let t = (j / (half * p.NH)) % p.T;
  let c = freqs_cos[t * half + i];
  let s = freqs_sin[t * half + i];
  let x0 = inp[2u * j];
  let x1 = inp[2u * j + 1u];
  out[2u * j] = x0 * c - x1 * s;
  out[2u * j + 1u] = x0 * s + x1 * c;
}
