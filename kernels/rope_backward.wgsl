// rope_backward: gradient of rope_forward. The forward multiplies each pair by the rotation
// matrix R(a) = [[c, -s], [s, c]] (a = t * freq_i); its Jacobian is R(a), so
// dinp = R(a)ᵀ dout = R(-a) dout:
//   dinp[b,t,h,2i]   =  dout[b,t,h,2i] * cos[t,i] + dout[b,t,h,2i+1] * sin[t,i]
//   dinp[b,t,h,2i+1] = -dout[b,t,h,2i] * sin[t,i] + dout[b,t,h,2i+1] * cos[t,i]
//   dinp      [B,T,NH,HS] f32, written with `=` (may not alias dout)
//   dout      [B,T,NH,HS] f32
//   freqs_cos [T,HS/2]    f32
//   freqs_sin [T,HS/2]    f32
// One invocation per pair. HS is even.
struct Params { B: u32, T: u32, NH: u32, HS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
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
  let g0 = dout[2u * j];
  let g1 = dout[2u * j + 1u];
  dinp[2u * j] = g0 * c + g1 * s;
  dinp[2u * j + 1u] = g1 * c - g0 * s;
}
