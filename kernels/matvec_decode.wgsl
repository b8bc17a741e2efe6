// matvec_decode: a linear layer for one row (a decode step): out = weight · xn, where xn is inp
// or, when Params.norm != 0, RMSNorm(inp) * norm_weight (the final norm fused into the
// classifier).
//   out         [OC] f32, written with `=`, or `+=` when Params.accumulate != 0 (the residual add)
//   inp         [C] f32, read as vec4 [C/4]
//   norm_weight [C] f32 as vec4, read only when norm != 0 (bind any [>= C] buffer otherwise)
//   weight      [OC, C] f32, read as vec4: row-major [OC, C/4] (as nn.Linear stores it) when
//               Params.tile == 0, else in tiles of `tile` rows (src/model/decode_layout.ts)
// out[o] = sum_k weight[o, k] * xn[k], xn[k] = inp[k] * rsqrt(mean(inp²) + eps) * norm_weight[k].
// The dot products are kernels/_matvec4.wgsl's (appended by the launcher): 4 rows per group of
// SPLIT invocations. Rows past OC are clamped (row-major) or padding (tiled) on load and skipped on
// store. Requires C % 4 == 0 (the launcher checks).
struct Params { C: u32, OC: u32, accumulate: u32, norm: u32, eps: f32, tile: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<vec4f>;
@group(0) @binding(3) var<storage, read> norm_weight: array<vec4f>;
@group(0) @binding(4) var<storage, read> weight: array<vec4f>;

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
  let C4 = p.C / 4u;
  let norm = p.norm != 0u;
  let acc = mv_rows4(l, mv_offsets(o0, p.OC, C4, p.tile), C4, mv_rstd(p.C, p.eps, norm), norm);
  if (l % SPLIT != 0u) { return; }
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i;
    if (o < p.OC) {
      var v = acc[i];
      if (p.accumulate != 0u) { v += out[o]; }
      out[o] = v;
    }
  }
}
