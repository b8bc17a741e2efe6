// _token_matvec: snippet (not a kernel) appended by launchers, after _token_step.wgsl, to
// token_decode and token_decode_lockstep: the matvec of a decode phase with the weights read
// from the storage buffer `weights` (vec4 loads; on llvmpipe each one a per-invocation loop with
// bounds checks, see docs/matmul-cpu.md). Invocation l takes rows 4 l, 4 l + 4 WG, ...; each
// vec4 of the input feeds 4 rows.

// Rows r0 .. r0 + 3 of the [rows, 4 * n4] matrix at float offset w, in tiles of p.tile rows
// (src/model/decode_layout.ts; rows are padded to whole tiles), times scratch[x4 .. x4 + n4)
// (vec4 offsets). With p.tile = 4 * WG, the WG invocations' loads at each k are consecutive.
fn rows4(w: u32, n4: u32, r0: u32, x4: u32) -> vec4f {
  let T = p.tile;
  let o = w / 4u + (r0 / T) * n4 * T + r0 % T;
  var acc = vec4f(0.0);
  for (var k = 0u; k < n4; k++) {
    let a = scratch[x4 + k];
    let ok = o + k * T;
    acc += vec4f(dot(a, weights[ok]), dot(a, weights[ok + 1u]), dot(a, weights[ok + 2u]),
                 dot(a, weights[ok + 3u]));
  }
  return acc;
}

// y = W · scratch[x4 ..] for the `rows` rows of the matrix at w, each group of 4 handed to
// epilogue(kind, ...) (see _token_step.wgsl).
fn phase_matvec(l: u32, kind: u32, w: u32, n4: u32, rows: u32, x4: u32, li: u32, pos: u32) {
  for (var r = 4u * l; r < rows; r += 4u * WG) { epilogue(kind, r, rows4(w, n4, r, x4), li, pos); }
}
