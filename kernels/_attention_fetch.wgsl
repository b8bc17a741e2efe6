// _attention_fetch: snippet (not a kernel) appended by src/ops/attention.ts, after
// kernels/_attention_rows.wgsl, to the three attention_*_tex kernels. The kernel supplies
// `override HS: u32` and `fn fetch(which: u32, t: u32) -> vec4f` (texel t of texture `which`, a
// literal at every call so the switch folds).
//
// A head row shared by the whole subgroup (every lane needs the same key, value, query or dout
// row) is fetched once per subgroup instead of once per lane: lane l fetches texels l and 8 + l of
// the row (the HS/4 <= 16 texels), and subgroupBroadcast hands texel j to every lane from lane
// j % 8. Needs subgroups of at least 8 invocations. Texels past the row are zero, as ldRow's.
fn bcLo(a: vec4f) -> mat4x4f {
  return mat4x4f(subgroupBroadcast(a, 0u), subgroupBroadcast(a, 1u), subgroupBroadcast(a, 2u),
                 subgroupBroadcast(a, 3u));
}
fn bcHi(a: vec4f) -> mat4x4f {
  return mat4x4f(subgroupBroadcast(a, 4u), subgroupBroadcast(a, 5u), subgroupBroadcast(a, 6u),
                 subgroupBroadcast(a, 7u));
}
// The row of HS floats starting at texel o, in every lane; `lane` is this lane's index in its
// group of 8 (subgroup_invocation_id % 8).
fn fetchRow(which: u32, o: u32, lane: u32) -> Row {
  var r: Row;
  let a = select(vec4f(0.0), fetch(which, o + min(lane, HS / 4u - 1u)), lane < HS / 4u);
  r.c0 = bcLo(a);
  if (HS > 16u) { r.c1 = bcHi(a); }
  if (HS > 32u) {
    let b = select(vec4f(0.0), fetch(which, o + min(lane + 8u, HS / 4u - 1u)),
                   lane + 8u < HS / 4u);
    r.c2 = bcLo(b);
    if (HS > 48u) { r.c3 = bcHi(b); }
  }
  return r;
}
