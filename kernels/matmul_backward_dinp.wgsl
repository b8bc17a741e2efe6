// matmul_backward_dinp: gradient of matmul_forward (out = inp · weightᵀ) with respect to inp.
//   dinp   [N, C]  f32, written with `=`, or `+=` when Params.accumulate != 0
//   dout   [N, OC] f32, read as vec4 [N, OC/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4]
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dinp[n, c] = sum_o dL/dout[n, o] * weight[o, c], i.e. dinp = dout · weight.
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x column quads cq0 + q * WG + lid (q < TN/4).
// Per 4 steps of o: TM + TN vec4 loads; m_q holds weight rows o..o+3 of quad q as columns, so
// acc_i_q += m_q * a_i with a_i = dout[r0 + i, o..o+3].
// Only rows o0 <= o < o1 of weight are summed (Params; multiples of 4): for a wide OC (the
// classifier) the launcher splits the sum into chunks of consecutive dispatches that add into
// dinp, so that each chunk of weight is read from cache by every row tile.
// Register tiling for CPU adapters: each invocation owns up to 16 x 16 outputs in vec4
// accumulators, unrolled by hand (llvmpipe neither unrolls loops over register arrays nor keeps
// them in registers); the override constants TM and TN (multiples of 4, at most 16 and 16)
// pick how much of the tile is live, and the `if (TM > ..)` guards fold away when the pipeline
// is built. Every load is a vec4: on llvmpipe a storage-buffer load costs far more than an FMA
// (it runs a per-invocation loop with bounds checks), so the kernel maximises FMAs per load.
// Workgroups of WG invocations, no workgroup memory, no barriers. Workgroups are numbered
// linearly (x + y * num_workgroups.x, see grid() in plan.ts); row tiles vary fastest. Loads
// clamp rows/columns past the edge (no branch in the inner loop); stores are guarded.
// Requires C % 4 == 0 and OC % 4 == 0 (the launcher sends other shapes to the *_scalar kernels).
struct Params { N: u32, C: u32, OC: u32, accumulate: u32, o0: u32, o1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<vec4f>;
@group(0) @binding(2) var<storage, read> dout: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows per invocation: 4, 8, 12 or 16.
override TM: u32 = 16;
// Columns per invocation: 4, 8, 12 or 16.
override TN: u32 = 12;

fn store(r: u32, cq: u32, v: vec4f) {
  let C4 = p.C / 4u;
  if (r < p.N && cq < C4) {
    let idx = r * C4 + cq;
    var x = v;
    if (p.accumulate != 0u) { x += dinp[idx]; }
    dinp[idx] = x;
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tile = wid.x + wid.y * nwg.x;
  let rowTiles = (p.N + TM - 1u) / TM;
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let wgQuads = WG * (TN / 4u);
  let colTiles = (C4 + wgQuads - 1u) / wgQuads;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let cq0 = (tile / rowTiles) * wgQuads + lid.x;
  let a0Off = min(r0 + 0u, p.N - 1u) * OC4;
  let a1Off = min(r0 + 1u, p.N - 1u) * OC4;
  let a2Off = min(r0 + 2u, p.N - 1u) * OC4;
  let a3Off = min(r0 + 3u, p.N - 1u) * OC4;
  let a4Off = min(r0 + 4u, p.N - 1u) * OC4;
  let a5Off = min(r0 + 5u, p.N - 1u) * OC4;
  let a6Off = min(r0 + 6u, p.N - 1u) * OC4;
  let a7Off = min(r0 + 7u, p.N - 1u) * OC4;
  let a8Off = min(r0 + 8u, p.N - 1u) * OC4;
  let a9Off = min(r0 + 9u, p.N - 1u) * OC4;
  let a10Off = min(r0 + 10u, p.N - 1u) * OC4;
  let a11Off = min(r0 + 11u, p.N - 1u) * OC4;
  let a12Off = min(r0 + 12u, p.N - 1u) * OC4;
  let a13Off = min(r0 + 13u, p.N - 1u) * OC4;
  let a14Off = min(r0 + 14u, p.N - 1u) * OC4;
  let a15Off = min(r0 + 15u, p.N - 1u) * OC4;
  let b0Off = min(cq0 + 0u * WG, C4 - 1u);
  let b1Off = min(cq0 + 1u * WG, C4 - 1u);
  let b2Off = min(cq0 + 2u * WG, C4 - 1u);
  let b3Off = min(cq0 + 3u * WG, C4 - 1u);
  var acc0_0 = vec4f(0.0); var acc0_1 = vec4f(0.0); var acc0_2 = vec4f(0.0); var acc0_3 = vec4f(0.0);
  var acc1_0 = vec4f(0.0); var acc1_1 = vec4f(0.0); var acc1_2 = vec4f(0.0); var acc1_3 = vec4f(0.0);
  var acc2_0 = vec4f(0.0); var acc2_1 = vec4f(0.0); var acc2_2 = vec4f(0.0); var acc2_3 = vec4f(0.0);
  var acc3_0 = vec4f(0.0); var acc3_1 = vec4f(0.0); var acc3_2 = vec4f(0.0); var acc3_3 = vec4f(0.0);
  var acc4_0 = vec4f(0.0); var acc4_1 = vec4f(0.0); var acc4_2 = vec4f(0.0); var acc4_3 = vec4f(0.0);
  var acc5_0 = vec4f(0.0); var acc5_1 = vec4f(0.0); var acc5_2 = vec4f(0.0); var acc5_3 = vec4f(0.0);
  var acc6_0 = vec4f(0.0); var acc6_1 = vec4f(0.0); var acc6_2 = vec4f(0.0); var acc6_3 = vec4f(0.0);
  var acc7_0 = vec4f(0.0); var acc7_1 = vec4f(0.0); var acc7_2 = vec4f(0.0); var acc7_3 = vec4f(0.0);
  var acc8_0 = vec4f(0.0); var acc8_1 = vec4f(0.0); var acc8_2 = vec4f(0.0); var acc8_3 = vec4f(0.0);
  var acc9_0 = vec4f(0.0); var acc9_1 = vec4f(0.0); var acc9_2 = vec4f(0.0); var acc9_3 = vec4f(0.0);
  var acc10_0 = vec4f(0.0); var acc10_1 = vec4f(0.0); var acc10_2 = vec4f(0.0); var acc10_3 = vec4f(0.0);
  var acc11_0 = vec4f(0.0); var acc11_1 = vec4f(0.0); var acc11_2 = vec4f(0.0); var acc11_3 = vec4f(0.0);
  var acc12_0 = vec4f(0.0); var acc12_1 = vec4f(0.0); var acc12_2 = vec4f(0.0); var acc12_3 = vec4f(0.0);
  var acc13_0 = vec4f(0.0); var acc13_1 = vec4f(0.0); var acc13_2 = vec4f(0.0); var acc13_3 = vec4f(0.0);
  var acc14_0 = vec4f(0.0); var acc14_1 = vec4f(0.0); var acc14_2 = vec4f(0.0); var acc14_3 = vec4f(0.0);
  var acc15_0 = vec4f(0.0); var acc15_1 = vec4f(0.0); var acc15_2 = vec4f(0.0); var acc15_3 = vec4f(0.0);
  for (var o4 = p.o0 / 4u; o4 < p.o1 / 4u; o4++) {
    let w0 = o4 * 4u * C4;
    var m0: mat4x4f;
    { m0 = mat4x4f(weight[w0 + 0u * C4 + b0Off], weight[w0 + 1u * C4 + b0Off], weight[w0 + 2u * C4 + b0Off], weight[w0 + 3u * C4 + b0Off]); }
    var m1: mat4x4f;
    if (TN > 4u) { m1 = mat4x4f(weight[w0 + 0u * C4 + b1Off], weight[w0 + 1u * C4 + b1Off], weight[w0 + 2u * C4 + b1Off], weight[w0 + 3u * C4 + b1Off]); }
    var m2: mat4x4f;
    if (TN > 8u) { m2 = mat4x4f(weight[w0 + 0u * C4 + b2Off], weight[w0 + 1u * C4 + b2Off], weight[w0 + 2u * C4 + b2Off], weight[w0 + 3u * C4 + b2Off]); }
    var m3: mat4x4f;
    if (TN > 12u) { m3 = mat4x4f(weight[w0 + 0u * C4 + b3Off], weight[w0 + 1u * C4 + b3Off], weight[w0 + 2u * C4 + b3Off], weight[w0 + 3u * C4 + b3Off]); }
    { let a = dout[a0Off + o4]; acc0_0 += m0 * a; if (TN > 4u) { acc0_1 += m1 * a; } if (TN > 8u) { acc0_2 += m2 * a; } if (TN > 12u) { acc0_3 += m3 * a; } }
    { let a = dout[a1Off + o4]; acc1_0 += m0 * a; if (TN > 4u) { acc1_1 += m1 * a; } if (TN > 8u) { acc1_2 += m2 * a; } if (TN > 12u) { acc1_3 += m3 * a; } }
    { let a = dout[a2Off + o4]; acc2_0 += m0 * a; if (TN > 4u) { acc2_1 += m1 * a; } if (TN > 8u) { acc2_2 += m2 * a; } if (TN > 12u) { acc2_3 += m3 * a; } }
    { let a = dout[a3Off + o4]; acc3_0 += m0 * a; if (TN > 4u) { acc3_1 += m1 * a; } if (TN > 8u) { acc3_2 += m2 * a; } if (TN > 12u) { acc3_3 += m3 * a; } }
    if (TM > 4u) { let a = dout[a4Off + o4]; acc4_0 += m0 * a; if (TN > 4u) { acc4_1 += m1 * a; } if (TN > 8u) { acc4_2 += m2 * a; } if (TN > 12u) { acc4_3 += m3 * a; } }
    if (TM > 5u) { let a = dout[a5Off + o4]; acc5_0 += m0 * a; if (TN > 4u) { acc5_1 += m1 * a; } if (TN > 8u) { acc5_2 += m2 * a; } if (TN > 12u) { acc5_3 += m3 * a; } }
    if (TM > 6u) { let a = dout[a6Off + o4]; acc6_0 += m0 * a; if (TN > 4u) { acc6_1 += m1 * a; } if (TN > 8u) { acc6_2 += m2 * a; } if (TN > 12u) { acc6_3 += m3 * a; } }
    if (TM > 7u) { let a = dout[a7Off + o4]; acc7_0 += m0 * a; if (TN > 4u) { acc7_1 += m1 * a; } if (TN > 8u) { acc7_2 += m2 * a; } if (TN > 12u) { acc7_3 += m3 * a; } }
    if (TM > 8u) { let a = dout[a8Off + o4]; acc8_0 += m0 * a; if (TN > 4u) { acc8_1 += m1 * a; } if (TN > 8u) { acc8_2 += m2 * a; } if (TN > 12u) { acc8_3 += m3 * a; } }
    if (TM > 9u) { let a = dout[a9Off + o4]; acc9_0 += m0 * a; if (TN > 4u) { acc9_1 += m1 * a; } if (TN > 8u) { acc9_2 += m2 * a; } if (TN > 12u) { acc9_3 += m3 * a; } }
    if (TM > 10u) { let a = dout[a10Off + o4]; acc10_0 += m0 * a; if (TN > 4u) { acc10_1 += m1 * a; } if (TN > 8u) { acc10_2 += m2 * a; } if (TN > 12u) { acc10_3 += m3 * a; } }
    if (TM > 11u) { let a = dout[a11Off + o4]; acc11_0 += m0 * a; if (TN > 4u) { acc11_1 += m1 * a; } if (TN > 8u) { acc11_2 += m2 * a; } if (TN > 12u) { acc11_3 += m3 * a; } }
    if (TM > 12u) { let a = dout[a12Off + o4]; acc12_0 += m0 * a; if (TN > 4u) { acc12_1 += m1 * a; } if (TN > 8u) { acc12_2 += m2 * a; } if (TN > 12u) { acc12_3 += m3 * a; } }
    if (TM > 13u) { let a = dout[a13Off + o4]; acc13_0 += m0 * a; if (TN > 4u) { acc13_1 += m1 * a; } if (TN > 8u) { acc13_2 += m2 * a; } if (TN > 12u) { acc13_3 += m3 * a; } }
    if (TM > 14u) { let a = dout[a14Off + o4]; acc14_0 += m0 * a; if (TN > 4u) { acc14_1 += m1 * a; } if (TN > 8u) { acc14_2 += m2 * a; } if (TN > 12u) { acc14_3 += m3 * a; } }
    if (TM > 15u) { let a = dout[a15Off + o4]; acc15_0 += m0 * a; if (TN > 4u) { acc15_1 += m1 * a; } if (TN > 8u) { acc15_2 += m2 * a; } if (TN > 12u) { acc15_3 += m3 * a; } }
  }
  store(r0 + 0u, cq0 + 0u * WG, acc0_0);
  if (TN > 4u) { store(r0 + 0u, cq0 + 1u * WG, acc0_1); }
  if (TN > 8u) { store(r0 + 0u, cq0 + 2u * WG, acc0_2); }
  if (TN > 12u) { store(r0 + 0u, cq0 + 3u * WG, acc0_3); }
  store(r0 + 1u, cq0 + 0u * WG, acc1_0);
  if (TN > 4u) { store(r0 + 1u, cq0 + 1u * WG, acc1_1); }
  if (TN > 8u) { store(r0 + 1u, cq0 + 2u * WG, acc1_2); }
  if (TN > 12u) { store(r0 + 1u, cq0 + 3u * WG, acc1_3); }
  store(r0 + 2u, cq0 + 0u * WG, acc2_0);
  if (TN > 4u) { store(r0 + 2u, cq0 + 1u * WG, acc2_1); }
  if (TN > 8u) { store(r0 + 2u, cq0 + 2u * WG, acc2_2); }
  if (TN > 12u) { store(r0 + 2u, cq0 + 3u * WG, acc2_3); }
  store(r0 + 3u, cq0 + 0u * WG, acc3_0);
  if (TN > 4u) { store(r0 + 3u, cq0 + 1u * WG, acc3_1); }
  if (TN > 8u) { store(r0 + 3u, cq0 + 2u * WG, acc3_2); }
  if (TN > 12u) { store(r0 + 3u, cq0 + 3u * WG, acc3_3); }
  if (TM > 4u) { store(r0 + 4u, cq0 + 0u * WG, acc4_0); }
  if (TM > 4u && TN > 4u) { store(r0 + 4u, cq0 + 1u * WG, acc4_1); }
  if (TM > 4u && TN > 8u) { store(r0 + 4u, cq0 + 2u * WG, acc4_2); }
  if (TM > 4u && TN > 12u) { store(r0 + 4u, cq0 + 3u * WG, acc4_3); }
  if (TM > 5u) { store(r0 + 5u, cq0 + 0u * WG, acc5_0); }
  if (TM > 5u && TN > 4u) { store(r0 + 5u, cq0 + 1u * WG, acc5_1); }
  if (TM > 5u && TN > 8u) { store(r0 + 5u, cq0 + 2u * WG, acc5_2); }
  if (TM > 5u && TN > 12u) { store(r0 + 5u, cq0 + 3u * WG, acc5_3); }
  if (TM > 6u) { store(r0 + 6u, cq0 + 0u * WG, acc6_0); }
  if (TM > 6u && TN > 4u) { store(r0 + 6u, cq0 + 1u * WG, acc6_1); }
  if (TM > 6u && TN > 8u) { store(r0 + 6u, cq0 + 2u * WG, acc6_2); }
  if (TM > 6u && TN > 12u) { store(r0 + 6u, cq0 + 3u * WG, acc6_3); }
  if (TM > 7u) { store(r0 + 7u, cq0 + 0u * WG, acc7_0); }
  if (TM > 7u && TN > 4u) { store(r0 + 7u, cq0 + 1u * WG, acc7_1); }
  if (TM > 7u && TN > 8u) { store(r0 + 7u, cq0 + 2u * WG, acc7_2); }
  if (TM > 7u && TN > 12u) { store(r0 + 7u, cq0 + 3u * WG, acc7_3); }
  if (TM > 8u) { store(r0 + 8u, cq0 + 0u * WG, acc8_0); }
  if (TM > 8u && TN > 4u) { store(r0 + 8u, cq0 + 1u * WG, acc8_1); }
  if (TM > 8u && TN > 8u) { store(r0 + 8u, cq0 + 2u * WG, acc8_2); }
  if (TM > 8u && TN > 12u) { store(r0 + 8u, cq0 + 3u * WG, acc8_3); }
  if (TM > 9u) { store(r0 + 9u, cq0 + 0u * WG, acc9_0); }
  if (TM > 9u && TN > 4u) { store(r0 + 9u, cq0 + 1u * WG, acc9_1); }
  if (TM > 9u && TN > 8u) { store(r0 + 9u, cq0 + 2u * WG, acc9_2); }
  if (TM > 9u && TN > 12u) { store(r0 + 9u, cq0 + 3u * WG, acc9_3); }
  if (TM > 10u) { store(r0 + 10u, cq0 + 0u * WG, acc10_0); }
  if (TM > 10u && TN > 4u) { store(r0 + 10u, cq0 + 1u * WG, acc10_1); }
  if (TM > 10u && TN > 8u) { store(r0 + 10u, cq0 + 2u * WG, acc10_2); }
  if (TM > 10u && TN > 12u) { store(r0 + 10u, cq0 + 3u * WG, acc10_3); }
  if (TM > 11u) { store(r0 + 11u, cq0 + 0u * WG, acc11_0); }
  if (TM > 11u && TN > 4u) { store(r0 + 11u, cq0 + 1u * WG, acc11_1); }
  if (TM > 11u && TN > 8u) { store(r0 + 11u, cq0 + 2u * WG, acc11_2); }
  if (TM > 11u && TN > 12u) { store(r0 + 11u, cq0 + 3u * WG, acc11_3); }
  if (TM > 12u) { store(r0 + 12u, cq0 + 0u * WG, acc12_0); }
  if (TM > 12u && TN > 4u) { store(r0 + 12u, cq0 + 1u * WG, acc12_1); }
  if (TM > 12u && TN > 8u) { store(r0 + 12u, cq0 + 2u * WG, acc12_2); }
  if (TM > 12u && TN > 12u) { store(r0 + 12u, cq0 + 3u * WG, acc12_3); }
  if (TM > 13u) { store(r0 + 13u, cq0 + 0u * WG, acc13_0); }
  if (TM > 13u && TN > 4u) { store(r0 + 13u, cq0 + 1u * WG, acc13_1); }
  if (TM > 13u && TN > 8u) { store(r0 + 13u, cq0 + 2u * WG, acc13_2); }
  if (TM > 13u && TN > 12u) { store(r0 + 13u, cq0 + 3u * WG, acc13_3); }
  if (TM > 14u) { store(r0 + 14u, cq0 + 0u * WG, acc14_0); }
  if (TM > 14u && TN > 4u) { store(r0 + 14u, cq0 + 1u * WG, acc14_1); }
  if (TM > 14u && TN > 8u) { store(r0 + 14u, cq0 + 2u * WG, acc14_2); }
  if (TM > 14u && TN > 12u) { store(r0 + 14u, cq0 + 3u * WG, acc14_3); }
  if (TM > 15u) { store(r0 + 15u, cq0 + 0u * WG, acc15_0); }
  if (TM > 15u && TN > 4u) { store(r0 + 15u, cq0 + 1u * WG, acc15_1); }
  if (TM > 15u && TN > 8u) { store(r0 + 15u, cq0 + 2u * WG, acc15_2); }
  if (TM > 15u && TN > 12u) { store(r0 + 15u, cq0 + 3u * WG, acc15_3); }
}
