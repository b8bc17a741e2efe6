// matmul_forward_tiled: out = inp · weightᵀ, the same contract as matmul_forward, shaped for GPUs.
//   out    [N, OC] f32, written with `=`, or `+=` when Params.accumulate != 0
//   inp    [N, C]  f32, read as vec4 [N, C/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4]
// out[n, o] = sum_k inp[n, k] * weight[o, k].
//
// A workgroup of TX x TY invocations computes a BM x BN block of out (BM = TY * RM rows of N,
// BN = TX * RN columns of OC; workgroup_id.x = column block, .y = row block). The k sum goes in
// stages of BK = 16: the block's rows of inp and of weight are copied, as vec4s along k, into
// workgroup memory (As [BM][KP], Bs [BN][KP] vec4s, KP = 5: one vec4 of padding per row so that
// neighbouring invocations read different banks), then each invocation accumulates its RM x RN
// micro-tile, rows ty + i * TY and columns tx + j * TX (strided, so that the invocations of a
// subgroup store neighbouring columns), as 4-wide dot products over the stage. Loads past N, OC
// or C read zeros; stores are guarded. Each output is summed in order of k (deterministic).
// Requires C % 4 == 0 and OC % 4 == 0 (the launcher sends other shapes to the scalar kernel);
// RM, RN at most 8; TX * TY within the device's invocations per workgroup; workgroup memory
// (BM + BN) * KP * 16 bytes.
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations along OC (columns) and along N (rows).
override TX: u32 = 16;
override TY: u32 = 16;
// Micro-tile of each invocation: RM rows x RN columns (1..8 each).
override RM: u32 = 4;
override RN: u32 = 4;
override BM: u32 = TY * RM;
override BN: u32 = TX * RN;
// vec4s of k per stage, and the padded row stride of the staged tiles.
const BK4: u32 = 4u;
const KP: u32 = 5u;

var<workgroup> As: array<vec4f, BM * KP>;
var<workgroup> Bs: array<vec4f, BN * KP>;

@compute @workgroup_size(TX * TY)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid % TX;
  let ty = lid / TX;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let C4 = p.C / 4u;
  var acc: array<f32, 64>;
  for (var k4 = 0u; k4 < C4; k4 += BK4) {
    for (var l = lid; l < BM * BK4; l += TX * TY) {
      let r = l / BK4;
      let q = l % BK4;
      var v = vec4f(0.0);
      if (m0 + r < p.N && k4 + q < C4) { v = inp[(m0 + r) * C4 + k4 + q]; }
      As[r * KP + q] = v;
    }
    for (var l = lid; l < BN * BK4; l += TX * TY) {
      let c = l / BK4;
      let q = l % BK4;
      var v = vec4f(0.0);
      if (n0 + c < p.OC && k4 + q < C4) { v = weight[(n0 + c) * C4 + k4 + q]; }
      Bs[c * KP + q] = v;
    }
    workgroupBarrier();
    for (var q = 0u; q < BK4; q++) {
      var a: array<vec4f, 8>;
      var b: array<vec4f, 8>;
      for (var i = 0u; i < RM; i++) { a[i] = As[(ty + i * TY) * KP + q]; }
      for (var j = 0u; j < RN; j++) { b[j] = Bs[(tx + j * TX) * KP + q]; }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) { acc[i * RN + j] += dot(a[i], b[j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < RM; i++) {
    let r = m0 + ty + i * TY;
    for (var j = 0u; j < RN; j++) {
      let c = n0 + tx + j * TX;
      if (r < p.N && c < p.OC) {
        let idx = r * p.OC + c;
        var x = acc[i * RN + j];
        if (p.accumulate != 0u) { x += out[idx]; }
        out[idx] = x;
      }
    }
  }
}
