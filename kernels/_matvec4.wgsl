// _matvec4: snippet (not a kernel) appended by launchers to the decode matvec kernels
// (matvec_decode, qkv_decode, ffn_decode), followed by _matvec4_split.wgsl or
// _matvec4_subgroup.wgsl (which define mv_reduce): dot products of 4 weight rows with one input
// row, optionally RMSNorm-ed on the fly. Rows are row-major or in tiles of T rows
// (src/model/decode_layout.ts); mv_offsets gives the vec4 offsets of a group's 4 rows at k = 0
// and the stride from k to k + 1.
// The including kernel declares: `override WG` (invocations per workgroup, <= 256) and
// `override SPLIT` (invocations sharing 4 rows, a power of two dividing WG), and bindings
//   inp         [C] f32 as vec4 [C/4]
//   norm_weight [C] f32 as vec4 (the RMSNorm weight; any [>= C] buffer when not normalising)
//   weight      [rows, C] f32 as vec4 [rows, C/4]
// A group of SPLIT consecutive invocations owns 4 rows; invocation j of the group sums the vec4
// columns j, j + SPLIT, ... of those rows (one inp load feeds 4 rows), then mv_reduce adds the
// group's partial sums. SPLIT = 1 (CPU adapters: every per-lane load is a separate load anyway,
// and barriers are expensive) needs no reduction; a real GPU uses SPLIT = 16..WG so that the
// group's loads are contiguous.

// rsqrt(mean(inp²) + eps) when `norm`, else 1 (then inp * 1 * 1 is inp exactly). Every
// invocation sums all of inp itself: one broadcast load per address on a GPU (on llvmpipe a load
// per invocation, which is why the CPU-shaped variants normalise in a dispatch of their own).
fn mv_rstd(C: u32, eps: f32, norm: bool) -> f32 {
  if (!norm) { return 1.0; }
  var s = vec4f(0.0);
  for (var k = 0u; k < C / 4u; k++) {
    let v = inp[k];
    s = fma(v, v, s);
  }
  return inverseSqrt((s.x + s.y + s.z + s.w) / f32(C) + eps);
}

// Vec4 offsets (x..w) of rows o0 .. o0 + 3 at column group 0, and (in the result's w of the
// stride) the step per column group: row-major [rows, C4] with rows past `rows` clamped, or
// tiles of T rows (T a multiple of 4, so the 4 rows share a tile; rows are padded, no clamp).
fn mv_offsets(o0: u32, rows: u32, C4: u32, T: u32) -> array<u32, 5> {
  if (T == 0u) {
    let last = rows - 1u;
    return array<u32, 5>(min(o0, last) * C4, min(o0 + 1u, last) * C4, min(o0 + 2u, last) * C4,
                         min(o0 + 3u, last) * C4, 1u);
  }
  let b = (o0 / T) * C4 * T + o0 % T;
  return array<u32, 5>(b, b + 1u, b + 2u, b + 3u, T);
}

// sum_k weight[row_i, k] * xn[k] for the 4 rows at vec4 offsets w[0..3] + k * w[4], with
// xn = inp * rstd * norm_weight (rmsnorm_decode's f32 operations) or inp itself. The result is
// complete in the group's invocation j = 0.
fn mv_rows4(l: u32, w: array<u32, 5>, C4: u32, rstd: f32, norm: bool) -> vec4f {
  let j = l % SPLIT;
  let st = w[4];
  var acc = vec4f(0.0);
  if (norm) {
    for (var k = j; k < C4; k += SPLIT) {
      let a = inp[k] * rstd * norm_weight[k];
      let o = k * st;
      acc += vec4f(dot(a, weight[w[0] + o]), dot(a, weight[w[1] + o]), dot(a, weight[w[2] + o]),
                   dot(a, weight[w[3] + o]));
    }
  } else {
    for (var k = j; k < C4; k += SPLIT) {
      let a = inp[k];
      let o = k * st;
      acc += vec4f(dot(a, weight[w[0] + o]), dot(a, weight[w[1] + o]), dot(a, weight[w[2] + o]),
                   dot(a, weight[w[3] + o]));
    }
  }
  return mv_reduce(l, acc);
}
