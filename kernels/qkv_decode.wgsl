// qkv_decode: the attention inputs of one decode step in one dispatch: (RMSNorm,) q/k/v, RoPE at
// state.pos and the KV cache write (three matvec_decode + rope_decode fused, and rmsnorm_decode
// when Params.norm != 0).
//   q           [C] f32, written with `=` (rotated), C = NH * HS
//   key_cache   [L, S, KV] f32: row (layer, pos) written with `=` (rotated k), KV = NKV * HS
//   value_cache [L, S, KV] f32: row (layer, pos) written with `=` (v)
//   inp         [C] f32 as vec4: the residual stream x
//   norm_weight [C] f32 as vec4: rms_att, read only when norm != 0
//   weight      [C + 2 KV, C] f32 as vec4: wq; wk; wv stacked by rows, row-major or in tiles of
//               Params.tile rows (src/model/decode_layout.ts)
//   state       [4] u32 decode state (pos, token, done, unused)
//   freqs       [2, S, HS/2] f32: cos rows, then sin rows from sin_offset
// y = weight · xn, xn = inp * rsqrt(mean(inp²) + eps) * norm_weight, or inp itself when norm == 0
// (then inp is rmsnorm_decode's output: on a CPU adapter every invocation would load all of inp
// and norm_weight for the fused norm, which costs more than a dispatch) (kernels/_matvec4.wgsl, appended
// by the launcher: 4 rows per group of SPLIT invocations); rows [0, C) are q, [C, C + KV) k,
// the rest v. Pair (2j', 2j' + 1) of a head, j' = j mod HS/2, is rotated by pos * theta^(-2j'/HS):
// (y0, y1) -> (y0 cos - y1 sin, y0 sin + y1 cos) for q and k. C and KV are even, so a pair never
// straddles q/k/v and a group of 4 rows holds 2 whole pairs. Nothing is written once state.done
// is set (pos may then equal S). Requires C % 4 == 0.
struct Params {
  C: u32,
  KV: u32,
  HS: u32,
  S: u32,
  layer: u32,
  norm: u32,
  eps: f32,
  sin_offset: u32,
  tile: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> key_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> value_cache: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<vec4f>;
@group(0) @binding(5) var<storage, read> norm_weight: array<vec4f>;
@group(0) @binding(6) var<storage, read> weight: array<vec4f>;
@group(0) @binding(7) var<storage, read> state: array<u32>;
@group(0) @binding(8) var<storage, read> freqs: array<f32>;

// Invocations per workgroup (at most 256).
override WG: u32 = 8;
// Invocations sharing 4 rows (a power of two dividing WG).
override SPLIT: u32 = 1;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let l = lid.x;
  let o0 = ((wid.x + wid.y * nwg.x) * (WG / SPLIT) + l / SPLIT) * 4u;
  let C = p.C;
  let KV = p.KV;
  let C4 = C / 4u;
  let norm = p.norm != 0u;
  let y = mv_rows4(l, mv_offsets(o0, C + 2u * KV, C4, p.tile), C4, mv_rstd(C, p.eps, norm), norm);
  let pos = state[0];
  if (l % SPLIT != 0u || state[2] != 0u || pos >= p.S) { return; }
  let half = p.HS / 2u;
  let row = (p.layer * p.S + pos) * KV;
  for (var i = 0u; i < 4u; i += 2u) {
    let r = o0 + i;
    if (r >= C + 2u * KV) { return; }
    let y0 = y[i];
    let y1 = y[i + 1u];
    if (r >= C + KV) {
      value_cache[row + r - C - KV] = y0;
      value_cache[row + r - C - KV + 1u] = y1;
      continue;
    }
    let j = (r % p.HS) / 2u;
    let c = freqs[pos * half + j];
    let s = freqs[p.sin_offset + pos * half + j];
    let r0 = y0 * c - y1 * s;
    let r1 = y0 * s + y1 * c;
    if (r < C) {
      q[r] = r0;
      q[r + 1u] = r1;
    } else {
      key_cache[row + r - C] = r0;
      key_cache[row + r - C + 1u] = r1;
    }
  }
}
