// matmul_forward: out = inp · weightᵀ (a linear layer without bias; llm.c's matmul_forward).
//   out    [N, OC] f32, written with `=`, or `+=` when Params.accumulate != 0
//   inp    [N, C]  f32
//   weight [OC, C] f32 (row-major, as PyTorch's nn.Linear and llama2.c store it)
// out[n, o] = sum_k inp[n, k] * weight[o, k].
//
// Tiling: each invocation owns a register tile of TM rows x TN columns held in vec4
// accumulators; a workgroup of WG invocations covers TM rows x WG*TN columns (invocation l owns
// the column quads l, l + WG, l + 2*WG, ...). No workgroup memory and no barriers: on a CPU
// adapter (llvmpipe) a workgroup of 8 is one 256-bit vector and what pays is many FMAs per
// load. Loads clamp out-of-range rows/columns (no branch in the inner loop); stores are guarded.
// Workgroups are numbered linearly (x + y * num_workgroups.x, see grid() in plan.ts): row tiles
// vary fastest, so consecutive workgroups reuse one weight tile from cache.
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows per invocation (1..MAX_TM).
override TM: u32 = 8;
// Columns per invocation (a multiple of 4, 4..4*MAX_TQ).
override TN: u32 = 16;

const MAX_TM = 8u;
const MAX_TQ = 4u;

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
  let c0 = (tile / rowTiles) * wgCols + lid.x * 4u;
  let TQ = TN / 4u;

  var aOff: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { aOff[i] = min(r0 + i, p.N - 1u) * p.C; }
  var bOff: array<vec4u, MAX_TQ>;
  for (var q = 0u; q < TQ; q++) {
    let c = c0 + q * 4u * WG;
    bOff[q] = min(vec4u(c, c + 1u, c + 2u, c + 3u), vec4u(p.OC - 1u)) * p.C;
  }
  var acc: array<vec4f, MAX_TM * MAX_TQ>;
  for (var k = 0u; k < p.C; k++) {
    var b: array<vec4f, MAX_TQ>;
    for (var q = 0u; q < TQ; q++) {
      let o = bOff[q] + vec4u(k);
      b[q] = vec4f(weight[o.x], weight[o.y], weight[o.z], weight[o.w]);
    }
    for (var i = 0u; i < TM; i++) {
      let a = vec4f(inp[aOff[i] + k]);
      for (var q = 0u; q < TQ; q++) {
        acc[i * MAX_TQ + q] = fma(a, b[q], acc[i * MAX_TQ + q]);
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let r = r0 + i;
    if (r >= p.N) { break; }
    for (var q = 0u; q < TQ; q++) {
      let c = c0 + q * 4u * WG;
      for (var e = 0u; e < 4u; e++) {
        if (c + e < p.OC) {
          let idx = r * p.OC + c + e;
          var v = acc[i * MAX_TQ + q][e];
          if (p.accumulate != 0u) { v += out[idx]; }
          out[idx] = v;
        }
      }
    }
  }
}
