// matmul_backward_dinp: gradient of matmul_forward (out = inp · weightᵀ) with respect to inp.
//   dinp   [N, C]  f32, written with `=`, or `+=` when Params.accumulate != 0
//   dout   [N, OC] f32
//   weight [OC, C] f32
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dinp[n, c] = sum_o dL/dout[n, o] * weight[o, c], i.e. dinp = dout · weight.
//
// Tiling as in matmul_forward: each invocation owns TM rows x TN columns (of C) in vec4
// accumulators, a workgroup covers TM rows x WG*TN columns (invocation l owns column quads l,
// l + WG, ...), no workgroup memory, clamped loads, guarded stores, row tiles vary fastest.
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
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
  let colTiles = (p.C + wgCols - 1u) / wgCols;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let c0 = (tile / rowTiles) * wgCols + lid.x * 4u;
  let TQ = TN / 4u;

  var aOff: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { aOff[i] = min(r0 + i, p.N - 1u) * p.OC; }
  var bOff: array<vec4u, MAX_TQ>;
  for (var q = 0u; q < TQ; q++) {
    let c = c0 + q * 4u * WG;
    bOff[q] = min(vec4u(c, c + 1u, c + 2u, c + 3u), vec4u(p.C - 1u));
  }
  var acc: array<vec4f, MAX_TM * MAX_TQ>;
  for (var o = 0u; o < p.OC; o++) {
    var b: array<vec4f, MAX_TQ>;
    let wrow = o * p.C;
    for (var q = 0u; q < TQ; q++) {
      let x = bOff[q] + vec4u(wrow);
      b[q] = vec4f(weight[x.x], weight[x.y], weight[x.z], weight[x.w]);
    }
    for (var i = 0u; i < TM; i++) {
      let a = vec4f(dout[aOff[i] + o]);
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
        if (c + e < p.C) {
          let idx = r * p.C + c + e;
          var v = acc[i * MAX_TQ + q][e];
          if (p.accumulate != 0u) { v += dinp[idx]; }
          dinp[idx] = v;
        }
      }
    }
  }
}
