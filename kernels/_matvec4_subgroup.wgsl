// _matvec4_subgroup: snippet (not a kernel) appended after _matvec4.wgsl by the decode matvec
// launchers where the device has the feature `subgroups`: mv_reduce adds the partial sums of the
// whole workgroup (SPLIT = WG: the workgroup owns 4 rows) with subgroupAdd in each subgroup, its
// first invocation writing the subgroup's sum to workgroup memory, one barrier, and
// invocation 0 adding the WG slots in index order (the other invocations' slots hold 0), so
// it assumes nothing about which invocations form a subgroup. The sum is complete in invocation
// 0. (No `enable subgroups;`: Deno 2.9's WGSL front end rejects it and accepts the built-ins once
// the device has the feature.) The including kernel declares `override WG` (<= 256).

var<workgroup> mv_sg: array<vec4f, 256>;

fn mv_reduce(l: u32, acc: vec4f) -> vec4f {
  let s = subgroupAdd(acc);
  // the subgroup's first invocation (subgroupElect is not in Deno 2.9's WGSL front end)
  mv_sg[l] = select(vec4f(0.0), s, subgroupExclusiveAdd(1u) == 0u);
  workgroupBarrier();
  var t = vec4f(0.0);
  if (l == 0u) {
    for (var i = 0u; i < WG; i++) { t += mv_sg[i]; }
  }
  return t;
}
