// rope_decode: RoPE at the current position for one decode step, and the KV cache write.
//   q           [NH * HS] f32, rotated in place (read_write, `=`)
//   k           [NKV * HS] f32, this step's keys before rotation
//   v           [NKV * HS] f32, this step's values
//   key_cache   [L, S, NKV * HS] f32: row (layer, pos) written with `=` (rotated k)
//   value_cache [L, S, NKV * HS] f32: row (layer, pos) written with `=` (v)
//   state       [4] u32 decode state (pos, token, done, unused)
//   freqs_cos, freqs_sin [S, HS / 2] f32 (model.py's precompute_freqs_cis)
// Pair j of a head (elements 2j, 2j+1) is rotated by angle pos * theta^(-2j/HS):
//   (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos).
// Invocation i < NH*HS/2 rotates a pair of q; the next NKV*HS/2 each rotate a pair of k and copy
// the same pair of v. Nothing is written once state.done is set (pos may then equal S).
struct Params { NH: u32, NKV: u32, HS: u32, S: u32, layer: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> key_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> value_cache: array<f32>;
@group(0) @binding(6) var<storage, read> state: array<u32>;
@group(0) @binding(7) var<storage, read> freqs_cos: array<f32>;
@group(0) @binding(8) var<storage, read> freqs_sin: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pos = state[0];
  if (state[2] != 0u || pos >= p.S) { return; }
  let half = p.HS / 2u;
  let qPairs = p.NH * half;
  let i = gid.x;
  if (i >= qPairs + p.NKV * half) { return; }
  let j = i % half;
  let c = freqs_cos[pos * half + j];
  let s = freqs_sin[pos * half + j];
  if (i < qPairs) {
    let x0 = q[2u * i];
    let x1 = q[2u * i + 1u];
    q[2u * i] = x0 * c - x1 * s;
    q[2u * i + 1u] = x0 * s + x1 * c;
    return;
  }
  let e = 2u * (i - qPairs);
  let row = (p.layer * p.S + pos) * p.NKV * p.HS;
  let x0 = k[e];
  let x1 = k[e + 1u];
  key_cache[row + e] = x0 * c - x1 * s;
  key_cache[row + e + 1u] = x0 * s + x1 * c;
  value_cache[row + e] = v[e];
  value_cache[row + e + 1u] = v[e + 1u];
}
