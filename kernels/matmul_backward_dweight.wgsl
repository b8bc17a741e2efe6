// matmul_backward_dweight: gradient of matmul_forward (out = inp · weightᵀ) with respect to
// weight, accumulated (gradient accumulation over micro-steps is free).
//   dweight [OC, C] f32, written with `+=`
//   dout    [N, OC] f32
//   inp     [N, C]  f32
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dweight[o, c] = sum_n dL/dout[n, o] * inp[n, c], i.e. dweight += doutᵀ · inp.
//
// No float atomics exist in WGSL: each invocation owns a TM x TN tile of dweight (rows of OC,
// columns of C, in vec4 accumulators) and loops over all N rows itself, in order
// (deterministic). A workgroup covers TM rows x WG*TN columns (invocation l owns column quads
// l, l + WG, ...); clamped loads, guarded stores.
struct Params { N: u32, C: u32, OC: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows (of OC) per invocation (1..MAX_TM).
override TM: u32 = 8;
// Columns (of C) per invocation (a multiple of 4, 4..4*MAX_TQ).
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
  let rowTiles = (p.OC + TM - 1u) / TM;
  let wgCols = WG * TN;
  let colTiles = (p.C + wgCols - 1u) / wgCols;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let c0 = (tile / rowTiles) * wgCols + lid.x * 4u;
  let TQ = TN / 4u;

  var aCol: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { aCol[i] = min(r0 + i, p.OC - 1u); }
  var bCol: array<vec4u, MAX_TQ>;
  for (var q = 0u; q < TQ; q++) {
    let c = c0 + q * 4u * WG;
    bCol[q] = min(vec4u(c, c + 1u, c + 2u, c + 3u), vec4u(p.C - 1u));
  }
  var acc: array<vec4f, MAX_TM * MAX_TQ>;
  for (var n = 0u; n < p.N; n++) {
    var b: array<vec4f, MAX_TQ>;
    let irow = n * p.C;
    for (var q = 0u; q < TQ; q++) {
      let x = bCol[q] + vec4u(irow);
      b[q] = vec4f(inp[x.x], inp[x.y], inp[x.z], inp[x.w]);
    }
    let drow = n * p.OC;
    for (var i = 0u; i < TM; i++) {
      let a = vec4f(dout[drow + aCol[i]]);
      for (var q = 0u; q < TQ; q++) {
        acc[i * MAX_TQ + q] = fma(a, b[q], acc[i * MAX_TQ + q]);
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let r = r0 + i;
    if (r >= p.OC) { break; }
    for (var q = 0u; q < TQ; q++) {
      let c = c0 + q * 4u * WG;
      for (var e = 0u; e < 4u; e++) {
        if (c + e < p.C) {
          let idx = r * p.C + c + e;
          dweight[idx] = dweight[idx] + acc[i * MAX_TQ + q][e];
        }
      }
    }
  }
}
