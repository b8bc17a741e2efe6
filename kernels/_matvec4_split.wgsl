// _matvec4_split: snippet (not a kernel) appended after _matvec4.wgsl by the decode matvec
// launchers: mv_reduce adds the partial sums of each group of SPLIT consecutive invocations
// through workgroup memory, a tree of log2(SPLIT) barriers (none when SPLIT = 1). The sum is
// complete in the group's invocation j = l % SPLIT = 0. The including kernel declares
// `override WG` (<= 256) and `override SPLIT` (a power of two dividing WG).

var<workgroup> mv_red: array<vec4f, 256>;

fn mv_reduce(l: u32, acc: vec4f) -> vec4f {
  if (SPLIT == 1u) { return acc; }
  let j = l % SPLIT;
  mv_red[l] = acc;
  workgroupBarrier();
  for (var s = SPLIT / 2u; s > 0u; s = s / 2u) {
    if (j < s) { mv_red[l] += mv_red[l + s]; }
    workgroupBarrier();
  }
  return mv_red[l];
}
