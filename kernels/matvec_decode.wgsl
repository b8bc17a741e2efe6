// matvec_decode: a linear layer for one row (a decode step): out = weight · inp.
//   out    [OC] f32, written with `=`, or `+=` when Params.accumulate != 0 (the residual add)
//   inp    [C] f32, read as vec4 [C/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4] (row-major, as nn.Linear stores it)
// out[o] = sum_k weight[o, k] * inp[k].
//
// A group of SPLIT consecutive invocations owns 4 output rows; invocation j of the group sums
// the vec4 columns j, j + SPLIT, ... of those rows (one inp load feeds 4 rows), then the group
// adds its partial sums through workgroup memory. SPLIT = 1 (CPU adapters: every weight load is
// a separate per-lane load anyway, and barriers are expensive) needs no barrier; a real GPU uses
// SPLIT = 16..32 so that the group's loads are contiguous. Rows past OC are clamped on load and
// skipped on store. Requires C % 4 == 0 (the launcher checks).
struct Params { C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations per workgroup (at most 256).
override WG: u32 = 8;
// Invocations sharing 4 rows (a power of two dividing WG).
override SPLIT: u32 = 1;

var<workgroup> red: array<vec4f, 256>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let l = lid.x;
  let j = l % SPLIT;
  let o0 = ((wid.x + wid.y * nwg.x) * (WG / SPLIT) + l / SPLIT) * 4u;
  let C4 = p.C / 4u;
  let last = p.OC - 1u;
  let w0 = min(o0, last) * C4;
  let w1 = min(o0 + 1u, last) * C4;
  let w2 = min(o0 + 2u, last) * C4;
  let w3 = min(o0 + 3u, last) * C4;
  var acc = vec4f(0.0);
  for (var k = j; k < C4; k += SPLIT) {
    let a = inp[k];
    acc += vec4f(dot(a, weight[w0 + k]), dot(a, weight[w1 + k]), dot(a, weight[w2 + k]),
                 dot(a, weight[w3 + k]));
  }
  if (SPLIT > 1u) {
    red[l] = acc;
    workgroupBarrier();
    for (var s = SPLIT / 2u; s > 0u; s = s / 2u) {
      if (j < s) { red[l] += red[l + s]; }
      workgroupBarrier();
    }
    acc = red[l];
  }
  if (j != 0u) { return; }
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i;
    if (o < p.OC) {
      var v = acc[i];
      if (p.accumulate != 0u) { v += out[o]; }
      out[o] = v;
    }
  }
}
