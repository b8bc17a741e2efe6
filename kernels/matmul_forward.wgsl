// matmul_forward: out = inp · weightᵀ (a linear layer without bias; llm.c's matmul_forward).
//   out    [N, OC] f32, written with `=`, or `+=` when Params.accumulate != 0
//   inp    [N, C]  f32, read as vec4 [N, C/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4] (row-major, as PyTorch's nn.Linear stores it)
// out[n, o] = sum_k inp[n, k] * weight[o, k].
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x columns c0 + j * WG + lid (j < TN).
// Per 4 steps of k: TM + TN vec4 loads and TM x TN 4-wide dot products; columns 4q..4q+3 of the
// tile form the matrix m_q (one weight row per column), so acc_i_q += a_i * m_q.
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
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows per invocation: 4, 8, 12 or 16.
override TM: u32 = 16;
// Columns per invocation: 4, 8, 12 or 16.
override TN: u32 = 12;

fn store(r: u32, c: u32, v: f32) {
  if (r < p.N && c < p.OC) {
    let idx = r * p.OC + c;
    var x = v;
    if (p.accumulate != 0u) { x += out[idx]; }
    out[idx] = x;
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
  let wgCols = WG * TN;
  let colTiles = (p.OC + wgCols - 1u) / wgCols;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let c0 = (tile / rowTiles) * wgCols + lid.x;
  let C4 = p.C / 4u;
  let a0Off = min(r0 + 0u, p.N - 1u) * C4;
  let a1Off = min(r0 + 1u, p.N - 1u) * C4;
  let a2Off = min(r0 + 2u, p.N - 1u) * C4;
  let a3Off = min(r0 + 3u, p.N - 1u) * C4;
  let a4Off = min(r0 + 4u, p.N - 1u) * C4;
  let a5Off = min(r0 + 5u, p.N - 1u) * C4;
  let a6Off = min(r0 + 6u, p.N - 1u) * C4;
  let a7Off = min(r0 + 7u, p.N - 1u) * C4;
  let a8Off = min(r0 + 8u, p.N - 1u) * C4;
  let a9Off = min(r0 + 9u, p.N - 1u) * C4;
  let a10Off = min(r0 + 10u, p.N - 1u) * C4;
  let a11Off = min(r0 + 11u, p.N - 1u) * C4;
  let a12Off = min(r0 + 12u, p.N - 1u) * C4;
  let a13Off = min(r0 + 13u, p.N - 1u) * C4;
  let a14Off = min(r0 + 14u, p.N - 1u) * C4;
  let a15Off = min(r0 + 15u, p.N - 1u) * C4;
  let b0Off = min(c0 + 0u * WG, p.OC - 1u) * C4;
  let b1Off = min(c0 + 1u * WG, p.OC - 1u) * C4;
  let b2Off = min(c0 + 2u * WG, p.OC - 1u) * C4;
  let b3Off = min(c0 + 3u * WG, p.OC - 1u) * C4;
  let b4Off = min(c0 + 4u * WG, p.OC - 1u) * C4;
  let b5Off = min(c0 + 5u * WG, p.OC - 1u) * C4;
  let b6Off = min(c0 + 6u * WG, p.OC - 1u) * C4;
  let b7Off = min(c0 + 7u * WG, p.OC - 1u) * C4;
  let b8Off = min(c0 + 8u * WG, p.OC - 1u) * C4;
  let b9Off = min(c0 + 9u * WG, p.OC - 1u) * C4;
  let b10Off = min(c0 + 10u * WG, p.OC - 1u) * C4;
  let b11Off = min(c0 + 11u * WG, p.OC - 1u) * C4;
  let b12Off = min(c0 + 12u * WG, p.OC - 1u) * C4;
  let b13Off = min(c0 + 13u * WG, p.OC - 1u) * C4;
  let b14Off = min(c0 + 14u * WG, p.OC - 1u) * C4;
  let b15Off = min(c0 + 15u * WG, p.OC - 1u) * C4;
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
  for (var k = 0u; k < C4; k++) {
    var m0: mat4x4f;
    { m0 = mat4x4f(weight[b0Off + k], weight[b1Off + k], weight[b2Off + k], weight[b3Off + k]); }
    var m1: mat4x4f;
    if (TN > 4u) { m1 = mat4x4f(weight[b4Off + k], weight[b5Off + k], weight[b6Off + k], weight[b7Off + k]); }
    var m2: mat4x4f;
    if (TN > 8u) { m2 = mat4x4f(weight[b8Off + k], weight[b9Off + k], weight[b10Off + k], weight[b11Off + k]); }
    var m3: mat4x4f;
    if (TN > 12u) { m3 = mat4x4f(weight[b12Off + k], weight[b13Off + k], weight[b14Off + k], weight[b15Off + k]); }
    { let a = inp[a0Off + k]; acc0_0 += a * m0; if (TN > 4u) { acc0_1 += a * m1; } if (TN > 8u) { acc0_2 += a * m2; } if (TN > 12u) { acc0_3 += a * m3; } }
    { let a = inp[a1Off + k]; acc1_0 += a * m0; if (TN > 4u) { acc1_1 += a * m1; } if (TN > 8u) { acc1_2 += a * m2; } if (TN > 12u) { acc1_3 += a * m3; } }
    { let a = inp[a2Off + k]; acc2_0 += a * m0; if (TN > 4u) { acc2_1 += a * m1; } if (TN > 8u) { acc2_2 += a * m2; } if (TN > 12u) { acc2_3 += a * m3; } }
    { let a = inp[a3Off + k]; acc3_0 += a * m0; if (TN > 4u) { acc3_1 += a * m1; } if (TN > 8u) { acc3_2 += a * m2; } if (TN > 12u) { acc3_3 += a * m3; } }
    if (TM > 4u) { let a = inp[a4Off + k]; acc4_0 += a * m0; if (TN > 4u) { acc4_1 += a * m1; } if (TN > 8u) { acc4_2 += a * m2; } if (TN > 12u) { acc4_3 += a * m3; } }
    if (TM > 5u) { let a = inp[a5Off + k]; acc5_0 += a * m0; if (TN > 4u) { acc5_1 += a * m1; } if (TN > 8u) { acc5_2 += a * m2; } if (TN > 12u) { acc5_3 += a * m3; } }
    if (TM > 6u) { let a = inp[a6Off + k]; acc6_0 += a * m0; if (TN > 4u) { acc6_1 += a * m1; } if (TN > 8u) { acc6_2 += a * m2; } if (TN > 12u) { acc6_3 += a * m3; } }
    if (TM > 7u) { let a = inp[a7Off + k]; acc7_0 += a * m0; if (TN > 4u) { acc7_1 += a * m1; } if (TN > 8u) { acc7_2 += a * m2; } if (TN > 12u) { acc7_3 += a * m3; } }
    if (TM > 8u) { let a = inp[a8Off + k]; acc8_0 += a * m0; if (TN > 4u) { acc8_1 += a * m1; } if (TN > 8u) { acc8_2 += a * m2; } if (TN > 12u) { acc8_3 += a * m3; } }
    if (TM > 9u) { let a = inp[a9Off + k]; acc9_0 += a * m0; if (TN > 4u) { acc9_1 += a * m1; } if (TN > 8u) { acc9_2 += a * m2; } if (TN > 12u) { acc9_3 += a * m3; } }
    if (TM > 10u) { let a = inp[a10Off + k]; acc10_0 += a * m0; if (TN > 4u) { acc10_1 += a * m1; } if (TN > 8u) { acc10_2 += a * m2; } if (TN > 12u) { acc10_3 += a * m3; } }
    if (TM > 11u) { let a = inp[a11Off + k]; acc11_0 += a * m0; if (TN > 4u) { acc11_1 += a * m1; } if (TN > 8u) { acc11_2 += a * m2; } if (TN > 12u) { acc11_3 += a * m3; } }
    if (TM > 12u) { let a = inp[a12Off + k]; acc12_0 += a * m0; if (TN > 4u) { acc12_1 += a * m1; } if (TN > 8u) { acc12_2 += a * m2; } if (TN > 12u) { acc12_3 += a * m3; } }
    if (TM > 13u) { let a = inp[a13Off + k]; acc13_0 += a * m0; if (TN > 4u) { acc13_1 += a * m1; } if (TN > 8u) { acc13_2 += a * m2; } if (TN > 12u) { acc13_3 += a * m3; } }
    if (TM > 14u) { let a = inp[a14Off + k]; acc14_0 += a * m0; if (TN > 4u) { acc14_1 += a * m1; } if (TN > 8u) { acc14_2 += a * m2; } if (TN > 12u) { acc14_3 += a * m3; } }
    if (TM > 15u) { let a = inp[a15Off + k]; acc15_0 += a * m0; if (TN > 4u) { acc15_1 += a * m1; } if (TN > 8u) { acc15_2 += a * m2; } if (TN > 12u) { acc15_3 += a * m3; } }
  }
  { store(r0 + 0u, c0 + 0u * WG, acc0_0[0]); store(r0 + 0u, c0 + 1u * WG, acc0_0[1]); store(r0 + 0u, c0 + 2u * WG, acc0_0[2]); store(r0 + 0u, c0 + 3u * WG, acc0_0[3]); }
  if (TN > 4u) { store(r0 + 0u, c0 + 4u * WG, acc0_1[0]); store(r0 + 0u, c0 + 5u * WG, acc0_1[1]); store(r0 + 0u, c0 + 6u * WG, acc0_1[2]); store(r0 + 0u, c0 + 7u * WG, acc0_1[3]); }
  if (TN > 8u) { store(r0 + 0u, c0 + 8u * WG, acc0_2[0]); store(r0 + 0u, c0 + 9u * WG, acc0_2[1]); store(r0 + 0u, c0 + 10u * WG, acc0_2[2]); store(r0 + 0u, c0 + 11u * WG, acc0_2[3]); }
  if (TN > 12u) { store(r0 + 0u, c0 + 12u * WG, acc0_3[0]); store(r0 + 0u, c0 + 13u * WG, acc0_3[1]); store(r0 + 0u, c0 + 14u * WG, acc0_3[2]); store(r0 + 0u, c0 + 15u * WG, acc0_3[3]); }
  { store(r0 + 1u, c0 + 0u * WG, acc1_0[0]); store(r0 + 1u, c0 + 1u * WG, acc1_0[1]); store(r0 + 1u, c0 + 2u * WG, acc1_0[2]); store(r0 + 1u, c0 + 3u * WG, acc1_0[3]); }
  if (TN > 4u) { store(r0 + 1u, c0 + 4u * WG, acc1_1[0]); store(r0 + 1u, c0 + 5u * WG, acc1_1[1]); store(r0 + 1u, c0 + 6u * WG, acc1_1[2]); store(r0 + 1u, c0 + 7u * WG, acc1_1[3]); }
  if (TN > 8u) { store(r0 + 1u, c0 + 8u * WG, acc1_2[0]); store(r0 + 1u, c0 + 9u * WG, acc1_2[1]); store(r0 + 1u, c0 + 10u * WG, acc1_2[2]); store(r0 + 1u, c0 + 11u * WG, acc1_2[3]); }
  if (TN > 12u) { store(r0 + 1u, c0 + 12u * WG, acc1_3[0]); store(r0 + 1u, c0 + 13u * WG, acc1_3[1]); store(r0 + 1u, c0 + 14u * WG, acc1_3[2]); store(r0 + 1u, c0 + 15u * WG, acc1_3[3]); }
  { store(r0 + 2u, c0 + 0u * WG, acc2_0[0]); store(r0 + 2u, c0 + 1u * WG, acc2_0[1]); store(r0 + 2u, c0 + 2u * WG, acc2_0[2]); store(r0 + 2u, c0 + 3u * WG, acc2_0[3]); }
  if (TN > 4u) { store(r0 + 2u, c0 + 4u * WG, acc2_1[0]); store(r0 + 2u, c0 + 5u * WG, acc2_1[1]); store(r0 + 2u, c0 + 6u * WG, acc2_1[2]); store(r0 + 2u, c0 + 7u * WG, acc2_1[3]); }
  if (TN > 8u) { store(r0 + 2u, c0 + 8u * WG, acc2_2[0]); store(r0 + 2u, c0 + 9u * WG, acc2_2[1]); store(r0 + 2u, c0 + 10u * WG, acc2_2[2]); store(r0 + 2u, c0 + 11u * WG, acc2_2[3]); }
  if (TN > 12u) { store(r0 + 2u, c0 + 12u * WG, acc2_3[0]); store(r0 + 2u, c0 + 13u * WG, acc2_3[1]); store(r0 + 2u, c0 + 14u * WG, acc2_3[2]); store(r0 + 2u, c0 + 15u * WG, acc2_3[3]); }
  { store(r0 + 3u, c0 + 0u * WG, acc3_0[0]); store(r0 + 3u, c0 + 1u * WG, acc3_0[1]); store(r0 + 3u, c0 + 2u * WG, acc3_0[2]); store(r0 + 3u, c0 + 3u * WG, acc3_0[3]); }
  if (TN > 4u) { store(r0 + 3u, c0 + 4u * WG, acc3_1[0]); store(r0 + 3u, c0 + 5u * WG, acc3_1[1]); store(r0 + 3u, c0 + 6u * WG, acc3_1[2]); store(r0 + 3u, c0 + 7u * WG, acc3_1[3]); }
  if (TN > 8u) { store(r0 + 3u, c0 + 8u * WG, acc3_2[0]); store(r0 + 3u, c0 + 9u * WG, acc3_2[1]); store(r0 + 3u, c0 + 10u * WG, acc3_2[2]); store(r0 + 3u, c0 + 11u * WG, acc3_2[3]); }
  if (TN > 12u) { store(r0 + 3u, c0 + 12u * WG, acc3_3[0]); store(r0 + 3u, c0 + 13u * WG, acc3_3[1]); store(r0 + 3u, c0 + 14u * WG, acc3_3[2]); store(r0 + 3u, c0 + 15u * WG, acc3_3[3]); }
  if (TM > 4u) { store(r0 + 4u, c0 + 0u * WG, acc4_0[0]); store(r0 + 4u, c0 + 1u * WG, acc4_0[1]); store(r0 + 4u, c0 + 2u * WG, acc4_0[2]); store(r0 + 4u, c0 + 3u * WG, acc4_0[3]); }
  if (TM > 4u && TN > 4u) { store(r0 + 4u, c0 + 4u * WG, acc4_1[0]); store(r0 + 4u, c0 + 5u * WG, acc4_1[1]); store(r0 + 4u, c0 + 6u * WG, acc4_1[2]); store(r0 + 4u, c0 + 7u * WG, acc4_1[3]); }
  if (TM > 4u && TN > 8u) { store(r0 + 4u, c0 + 8u * WG, acc4_2[0]); store(r0 + 4u, c0 + 9u * WG, acc4_2[1]); store(r0 + 4u, c0 + 10u * WG, acc4_2[2]); store(r0 + 4u, c0 + 11u * WG, acc4_2[3]); }
  if (TM > 4u && TN > 12u) { store(r0 + 4u, c0 + 12u * WG, acc4_3[0]); store(r0 + 4u, c0 + 13u * WG, acc4_3[1]); store(r0 + 4u, c0 + 14u * WG, acc4_3[2]); store(r0 + 4u, c0 + 15u * WG, acc4_3[3]); }
  if (TM > 5u) { store(r0 + 5u, c0 + 0u * WG, acc5_0[0]); store(r0 + 5u, c0 + 1u * WG, acc5_0[1]); store(r0 + 5u, c0 + 2u * WG, acc5_0[2]); store(r0 + 5u, c0 + 3u * WG, acc5_0[3]); }
  if (TM > 5u && TN > 4u) { store(r0 + 5u, c0 + 4u * WG, acc5_1[0]); store(r0 + 5u, c0 + 5u * WG, acc5_1[1]); store(r0 + 5u, c0 + 6u * WG, acc5_1[2]); store(r0 + 5u, c0 + 7u * WG, acc5_1[3]); }
  if (TM > 5u && TN > 8u) { store(r0 + 5u, c0 + 8u * WG, acc5_2[0]); store(r0 + 5u, c0 + 9u * WG, acc5_2[1]); store(r0 + 5u, c0 + 10u * WG, acc5_2[2]); store(r0 + 5u, c0 + 11u * WG, acc5_2[3]); }
  if (TM > 5u && TN > 12u) { store(r0 + 5u, c0 + 12u * WG, acc5_3[0]); store(r0 + 5u, c0 + 13u * WG, acc5_3[1]); store(r0 + 5u, c0 + 14u * WG, acc5_3[2]); store(r0 + 5u, c0 + 15u * WG, acc5_3[3]); }
  if (TM > 6u) { store(r0 + 6u, c0 + 0u * WG, acc6_0[0]); store(r0 + 6u, c0 + 1u * WG, acc6_0[1]); store(r0 + 6u, c0 + 2u * WG, acc6_0[2]); store(r0 + 6u, c0 + 3u * WG, acc6_0[3]); }
  if (TM > 6u && TN > 4u) { store(r0 + 6u, c0 + 4u * WG, acc6_1[0]); store(r0 + 6u, c0 + 5u * WG, acc6_1[1]); store(r0 + 6u, c0 + 6u * WG, acc6_1[2]); store(r0 + 6u, c0 + 7u * WG, acc6_1[3]); }
  if (TM > 6u && TN > 8u) { store(r0 + 6u, c0 + 8u * WG, acc6_2[0]); store(r0 + 6u, c0 + 9u * WG, acc6_2[1]); store(r0 + 6u, c0 + 10u * WG, acc6_2[2]); store(r0 + 6u, c0 + 11u * WG, acc6_2[3]); }
  if (TM > 6u && TN > 12u) { store(r0 + 6u, c0 + 12u * WG, acc6_3[0]); store(r0 + 6u, c0 + 13u * WG, acc6_3[1]); store(r0 + 6u, c0 + 14u * WG, acc6_3[2]); store(r0 + 6u, c0 + 15u * WG, acc6_3[3]); }
  if (TM > 7u) { store(r0 + 7u, c0 + 0u * WG, acc7_0[0]); store(r0 + 7u, c0 + 1u * WG, acc7_0[1]); store(r0 + 7u, c0 + 2u * WG, acc7_0[2]); store(r0 + 7u, c0 + 3u * WG, acc7_0[3]); }
  if (TM > 7u && TN > 4u) { store(r0 + 7u, c0 + 4u * WG, acc7_1[0]); store(r0 + 7u, c0 + 5u * WG, acc7_1[1]); store(r0 + 7u, c0 + 6u * WG, acc7_1[2]); store(r0 + 7u, c0 + 7u * WG, acc7_1[3]); }
  if (TM > 7u && TN > 8u) { store(r0 + 7u, c0 + 8u * WG, acc7_2[0]); store(r0 + 7u, c0 + 9u * WG, acc7_2[1]); store(r0 + 7u, c0 + 10u * WG, acc7_2[2]); store(r0 + 7u, c0 + 11u * WG, acc7_2[3]); }
  if (TM > 7u && TN > 12u) { store(r0 + 7u, c0 + 12u * WG, acc7_3[0]); store(r0 + 7u, c0 + 13u * WG, acc7_3[1]); store(r0 + 7u, c0 + 14u * WG, acc7_3[2]); store(r0 + 7u, c0 + 15u * WG, acc7_3[3]); }
  if (TM > 8u) { store(r0 + 8u, c0 + 0u * WG, acc8_0[0]); store(r0 + 8u, c0 + 1u * WG, acc8_0[1]); store(r0 + 8u, c0 + 2u * WG, acc8_0[2]); store(r0 + 8u, c0 + 3u * WG, acc8_0[3]); }
  if (TM > 8u && TN > 4u) { store(r0 + 8u, c0 + 4u * WG, acc8_1[0]); store(r0 + 8u, c0 + 5u * WG, acc8_1[1]); store(r0 + 8u, c0 + 6u * WG, acc8_1[2]); store(r0 + 8u, c0 + 7u * WG, acc8_1[3]); }
  if (TM > 8u && TN > 8u) { store(r0 + 8u, c0 + 8u * WG, acc8_2[0]); store(r0 + 8u, c0 + 9u * WG, acc8_2[1]); store(r0 + 8u, c0 + 10u * WG, acc8_2[2]); store(r0 + 8u, c0 + 11u * WG, acc8_2[3]); }
  if (TM > 8u && TN > 12u) { store(r0 + 8u, c0 + 12u * WG, acc8_3[0]); store(r0 + 8u, c0 + 13u * WG, acc8_3[1]); store(r0 + 8u, c0 + 14u * WG, acc8_3[2]); store(r0 + 8u, c0 + 15u * WG, acc8_3[3]); }
  if (TM > 9u) { store(r0 + 9u, c0 + 0u * WG, acc9_0[0]); store(r0 + 9u, c0 + 1u * WG, acc9_0[1]); store(r0 + 9u, c0 + 2u * WG, acc9_0[2]); store(r0 + 9u, c0 + 3u * WG, acc9_0[3]); }
  if (TM > 9u && TN > 4u) { store(r0 + 9u, c0 + 4u * WG, acc9_1[0]); store(r0 + 9u, c0 + 5u * WG, acc9_1[1]); store(r0 + 9u, c0 + 6u * WG, acc9_1[2]); store(r0 + 9u, c0 + 7u * WG, acc9_1[3]); }
  if (TM > 9u && TN > 8u) { store(r0 + 9u, c0 + 8u * WG, acc9_2[0]); store(r0 + 9u, c0 + 9u * WG, acc9_2[1]); store(r0 + 9u, c0 + 10u * WG, acc9_2[2]); store(r0 + 9u, c0 + 11u * WG, acc9_2[3]); }
  if (TM > 9u && TN > 12u) { store(r0 + 9u, c0 + 12u * WG, acc9_3[0]); store(r0 + 9u, c0 + 13u * WG, acc9_3[1]); store(r0 + 9u, c0 + 14u * WG, acc9_3[2]); store(r0 + 9u, c0 + 15u * WG, acc9_3[3]); }
  if (TM > 10u) { store(r0 + 10u, c0 + 0u * WG, acc10_0[0]); store(r0 + 10u, c0 + 1u * WG, acc10_0[1]); store(r0 + 10u, c0 + 2u * WG, acc10_0[2]); store(r0 + 10u, c0 + 3u * WG, acc10_0[3]); }
  if (TM > 10u && TN > 4u) { store(r0 + 10u, c0 + 4u * WG, acc10_1[0]); store(r0 + 10u, c0 + 5u * WG, acc10_1[1]); store(r0 + 10u, c0 + 6u * WG, acc10_1[2]); store(r0 + 10u, c0 + 7u * WG, acc10_1[3]); }
  if (TM > 10u && TN > 8u) { store(r0 + 10u, c0 + 8u * WG, acc10_2[0]); store(r0 + 10u, c0 + 9u * WG, acc10_2[1]); store(r0 + 10u, c0 + 10u * WG, acc10_2[2]); store(r0 + 10u, c0 + 11u * WG, acc10_2[3]); }
  if (TM > 10u && TN > 12u) { store(r0 + 10u, c0 + 12u * WG, acc10_3[0]); store(r0 + 10u, c0 + 13u * WG, acc10_3[1]); store(r0 + 10u, c0 + 14u * WG, acc10_3[2]); store(r0 + 10u, c0 + 15u * WG, acc10_3[3]); }
  if (TM > 11u) { store(r0 + 11u, c0 + 0u * WG, acc11_0[0]); store(r0 + 11u, c0 + 1u * WG, acc11_0[1]); store(r0 + 11u, c0 + 2u * WG, acc11_0[2]); store(r0 + 11u, c0 + 3u * WG, acc11_0[3]); }
  if (TM > 11u && TN > 4u) { store(r0 + 11u, c0 + 4u * WG, acc11_1[0]); store(r0 + 11u, c0 + 5u * WG, acc11_1[1]); store(r0 + 11u, c0 + 6u * WG, acc11_1[2]); store(r0 + 11u, c0 + 7u * WG, acc11_1[3]); }
  if (TM > 11u && TN > 8u) { store(r0 + 11u, c0 + 8u * WG, acc11_2[0]); store(r0 + 11u, c0 + 9u * WG, acc11_2[1]); store(r0 + 11u, c0 + 10u * WG, acc11_2[2]); store(r0 + 11u, c0 + 11u * WG, acc11_2[3]); }
  if (TM > 11u && TN > 12u) { store(r0 + 11u, c0 + 12u * WG, acc11_3[0]); store(r0 + 11u, c0 + 13u * WG, acc11_3[1]); store(r0 + 11u, c0 + 14u * WG, acc11_3[2]); store(r0 + 11u, c0 + 15u * WG, acc11_3[3]); }
  if (TM > 12u) { store(r0 + 12u, c0 + 0u * WG, acc12_0[0]); store(r0 + 12u, c0 + 1u * WG, acc12_0[1]); store(r0 + 12u, c0 + 2u * WG, acc12_0[2]); store(r0 + 12u, c0 + 3u * WG, acc12_0[3]); }
  if (TM > 12u && TN > 4u) { store(r0 + 12u, c0 + 4u * WG, acc12_1[0]); store(r0 + 12u, c0 + 5u * WG, acc12_1[1]); store(r0 + 12u, c0 + 6u * WG, acc12_1[2]); store(r0 + 12u, c0 + 7u * WG, acc12_1[3]); }
  if (TM > 12u && TN > 8u) { store(r0 + 12u, c0 + 8u * WG, acc12_2[0]); store(r0 + 12u, c0 + 9u * WG, acc12_2[1]); store(r0 + 12u, c0 + 10u * WG, acc12_2[2]); store(r0 + 12u, c0 + 11u * WG, acc12_2[3]); }
  if (TM > 12u && TN > 12u) { store(r0 + 12u, c0 + 12u * WG, acc12_3[0]); store(r0 + 12u, c0 + 13u * WG, acc12_3[1]); store(r0 + 12u, c0 + 14u * WG, acc12_3[2]); store(r0 + 12u, c0 + 15u * WG, acc12_3[3]); }
  if (TM > 13u) { store(r0 + 13u, c0 + 0u * WG, acc13_0[0]); store(r0 + 13u, c0 + 1u * WG, acc13_0[1]); store(r0 + 13u, c0 + 2u * WG, acc13_0[2]); store(r0 + 13u, c0 + 3u * WG, acc13_0[3]); }
  if (TM > 13u && TN > 4u) { store(r0 + 13u, c0 + 4u * WG, acc13_1[0]); store(r0 + 13u, c0 + 5u * WG, acc13_1[1]); store(r0 + 13u, c0 + 6u * WG, acc13_1[2]); store(r0 + 13u, c0 + 7u * WG, acc13_1[3]); }
  if (TM > 13u && TN > 8u) { store(r0 + 13u, c0 + 8u * WG, acc13_2[0]); store(r0 + 13u, c0 + 9u * WG, acc13_2[1]); store(r0 + 13u, c0 + 10u * WG, acc13_2[2]); store(r0 + 13u, c0 + 11u * WG, acc13_2[3]); }
  if (TM > 13u && TN > 12u) { store(r0 + 13u, c0 + 12u * WG, acc13_3[0]); store(r0 + 13u, c0 + 13u * WG, acc13_3[1]); store(r0 + 13u, c0 + 14u * WG, acc13_3[2]); store(r0 + 13u, c0 + 15u * WG, acc13_3[3]); }
  if (TM > 14u) { store(r0 + 14u, c0 + 0u * WG, acc14_0[0]); store(r0 + 14u, c0 + 1u * WG, acc14_0[1]); store(r0 + 14u, c0 + 2u * WG, acc14_0[2]); store(r0 + 14u, c0 + 3u * WG, acc14_0[3]); }
  if (TM > 14u && TN > 4u) { store(r0 + 14u, c0 + 4u * WG, acc14_1[0]); store(r0 + 14u, c0 + 5u * WG, acc14_1[1]); store(r0 + 14u, c0 + 6u * WG, acc14_1[2]); store(r0 + 14u, c0 + 7u * WG, acc14_1[3]); }
  if (TM > 14u && TN > 8u) { store(r0 + 14u, c0 + 8u * WG, acc14_2[0]); store(r0 + 14u, c0 + 9u * WG, acc14_2[1]); store(r0 + 14u, c0 + 10u * WG, acc14_2[2]); store(r0 + 14u, c0 + 11u * WG, acc14_2[3]); }
  if (TM > 14u && TN > 12u) { store(r0 + 14u, c0 + 12u * WG, acc14_3[0]); store(r0 + 14u, c0 + 13u * WG, acc14_3[1]); store(r0 + 14u, c0 + 14u * WG, acc14_3[2]); store(r0 + 14u, c0 + 15u * WG, acc14_3[3]); }
  if (TM > 15u) { store(r0 + 15u, c0 + 0u * WG, acc15_0[0]); store(r0 + 15u, c0 + 1u * WG, acc15_0[1]); store(r0 + 15u, c0 + 2u * WG, acc15_0[2]); store(r0 + 15u, c0 + 3u * WG, acc15_0[3]); }
  if (TM > 15u && TN > 4u) { store(r0 + 15u, c0 + 4u * WG, acc15_1[0]); store(r0 + 15u, c0 + 5u * WG, acc15_1[1]); store(r0 + 15u, c0 + 6u * WG, acc15_1[2]); store(r0 + 15u, c0 + 7u * WG, acc15_1[3]); }
  if (TM > 15u && TN > 8u) { store(r0 + 15u, c0 + 8u * WG, acc15_2[0]); store(r0 + 15u, c0 + 9u * WG, acc15_2[1]); store(r0 + 15u, c0 + 10u * WG, acc15_2[2]); store(r0 + 15u, c0 + 11u * WG, acc15_2[3]); }
  if (TM > 15u && TN > 12u) { store(r0 + 15u, c0 + 12u * WG, acc15_3[0]); store(r0 + 15u, c0 + 13u * WG, acc15_3[1]); store(r0 + 15u, c0 + 14u * WG, acc15_3[2]); store(r0 + 15u, c0 + 15u * WG, acc15_3[3]); }
}
