// _token_matvec_tex: snippet (not a kernel) appended by the launcher, after _token_step.wgsl, to
// token_decode_lockstep_tex: the matvec of a decode phase with the weights read from a texture
// through the including kernel's `texel_at(x, y) -> vec4f` (texel t = vec4 t of the decode
// layout, at (t % 4096, t / 4096); src/model/decode_layout.ts, tiles of p.tile = 4 * WG rows).
// On llvmpipe a texture load is one call that fetches all 8 lanes' texels, where a storage-buffer
// vec4 load with a non-constant offset is a per-lane loop with bounds checks (docs/matmul-cpu.md).
// The input vector (scratch, written by earlier phases, so not a texture) is the same for every
// invocation: lane j of each 8 loads vec4 kb + j of it once per 8 steps of k and
// subgroupBroadcast hands each to every lane (needs subgroups of at least 8 running the
// workgroup, WG a multiple of 8). Sums are formed in the order of _token_matvec.wgsl (acc +=
// (dot(a, w_r0), .., dot(a, w_r3)) for k = 0, 1, ..), so both give the same bits.

// (dot(a, W[ok]), .., dot(a, W[ok + 3])): 4 consecutive texels, one texture row (ok % 4 == 0:
// the launcher checks that the offsets are multiples of 16 floats and tiles of 4 * WG rows).
fn dot4_tex(a: vec4f, ok: u32) -> vec4f {
  let x = ok & 4095u;
  let y = ok >> 12u;
  return vec4f(dot(a, texel_at(x, y)), dot(a, texel_at(x + 1u, y)), dot(a, texel_at(x + 2u, y)),
               dot(a, texel_at(x + 3u, y)));
}

// y = W · scratch[x4 ..] for the `rows` rows of the matrix at w, each group of 4 handed to
// epilogue(kind, ...) (see _token_step.wgsl). Every invocation runs every iteration (the
// broadcasts need all lanes); rows past `rows` read the tile's zero padding and are not stored.
fn phase_matvec(l: u32, kind: u32, w: u32, n4: u32, rows: u32, x4: u32, li: u32, pos: u32) {
  let T = p.tile;
  let n8 = n4 & ~7u;
  let j = sg_lane % 8u;
  for (var r0 = 0u; r0 < rows; r0 += 4u * WG) {
    let r = r0 + 4u * l;
    let o = w / 4u + (r / T) * n4 * T + r % T;
    var acc = vec4f(0.0);
    for (var kb = 0u; kb < n8; kb += 8u) {
      let aj = scratch[x4 + kb + j];
      let ok = o + kb * T;
      acc += dot4_tex(subgroupBroadcast(aj, 0u), ok);
      acc += dot4_tex(subgroupBroadcast(aj, 1u), ok + T);
      acc += dot4_tex(subgroupBroadcast(aj, 2u), ok + 2u * T);
      acc += dot4_tex(subgroupBroadcast(aj, 3u), ok + 3u * T);
      acc += dot4_tex(subgroupBroadcast(aj, 4u), ok + 4u * T);
      acc += dot4_tex(subgroupBroadcast(aj, 5u), ok + 5u * T);
      acc += dot4_tex(subgroupBroadcast(aj, 6u), ok + 6u * T);
      acc += dot4_tex(subgroupBroadcast(aj, 7u), ok + 7u * T);
    }
    for (var k = n8; k < n4; k++) { acc += dot4_tex(scratch[x4 + k], o + k * T); }
    if (r < rows) { epilogue(kind, r, acc, li, pos); }
  }
}
