// ffn_decode: the SwiGLU hidden row of one decode step in one dispatch: (RMSNorm,) w1 and w3, and
// the gate (two matvec_decode + swiglu_forward fused, and rmsnorm_decode when Params.norm != 0).
//   out         [H] f32, written with `=`: hg = silu(w1 · xn) * (w3 · xn)
//   inp         [C] f32 as vec4: the residual stream x
//   norm_weight [C] f32 as vec4: rms_ffn, read only when norm != 0
//   weight      [2 H, C] f32 as vec4: w13, rows w1[i] and w3[i] interleaved at 2i and 2i + 1
//               (src/model/decode_layout.ts), row-major or in tiles of Params.tile rows
// xn = inp * rsqrt(mean(inp²) + eps) * norm_weight, or inp itself when norm == 0; rows through kernels/_matvec4.wgsl (appended
// by the launcher: 4 rows, i.e. 2 outputs, per group of SPLIT invocations);
// silu(h) = h / (1 + exp(-h)) as kernels/swiglu_forward.wgsl. Requires C % 4 == 0.
struct Params { C: u32, H: u32, norm: u32, eps: f32, tile: u32 }

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
  let y = mv_rows4(l, mv_offsets(o0, 2u * p.H, C4, p.tile), C4, mv_rstd(p.C, p.eps, norm), norm);
  if (l % SPLIT != 0u) { return; }
  for (var i = 0u; i < 2u; i++) {
    let o = o0 / 2u + i;
    if (o < p.H) {
      let h1 = y[2u * i];
      out[o] = h1 / (1.0 + exp(-h1)) * y[2u * i + 1u];
    }
  }
}
