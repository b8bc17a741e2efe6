// matmul_backward_dinp_tiled: dinp = dout · weight, the same contract as matmul_backward_dinp
// (without its o0..o1 chunks), shaped for GPUs.
//   dinp   [N, C]  f32, written with `=`, or `+=` when Params.accumulate != 0
//   dout   [N, OC] f32, read as vec4 [N, OC/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4]
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dinp[n, c] = sum_o dL/dout[n, o] * weight[o, c], i.e. dinp = dout · weight.
//
// As matmul_forward_tiled with k = o: a workgroup of TX x TY invocations computes a BM x BN block
// of dinp (BM = TY * RM rows of N, BN = TX * RN columns of C), staging BK = 16 values of o at a
// time in workgroup memory as vec4s along o: rows of dout are copied as they are, while weight
// (contiguous along c) is read as vec4s of 4 columns and transposed into Bs on the way. Each
// invocation accumulates rows ty + i * TY x columns tx + j * TX with 4-wide dot products, in order
// of o (deterministic). Loads past N, C or OC read zeros; stores are guarded.
// Requires C % 4 == 0 and OC % 4 == 0; RM, RN at most 8; TX * RN a multiple of 4.
struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations along C (columns) and along N (rows).
override TX: u32 = 16;
override TY: u32 = 16;
// Micro-tile of each invocation: RM rows x RN columns (1..8 each).
override RM: u32 = 4;
override RN: u32 = 4;
override BM: u32 = TY * RM;
override BN: u32 = TX * RN;
// vec4s of o per stage, and the padded row stride of the staged tiles.
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
  let OC4 = p.OC / 4u;
  let BN4 = BN / 4u;
  var acc: array<f32, 64>;
  for (var k4 = 0u; k4 < OC4; k4 += BK4) {
    for (var l = lid; l < BM * BK4; l += TX * TY) {
      let r = l / BK4;
      let q = l % BK4;
      var v = vec4f(0.0);
      if (m0 + r < p.N && k4 + q < OC4) { v = dout[(m0 + r) * OC4 + k4 + q]; }
      As[r * KP + q] = v;
    }
    for (var l = lid; l < BN4 * BK4 * 4u; l += TX * TY) {
      let cq = l % BN4;
      let kk = l / BN4;
      let o = k4 * 4u + kk;
      var v = vec4f(0.0);
      if (n0 / 4u + cq < C4 && o < p.OC) { v = weight[o * C4 + n0 / 4u + cq]; }
      for (var e = 0u; e < 4u; e++) { Bs[(cq * 4u + e) * KP + kk / 4u][kk % 4u] = v[e]; }
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
      if (r < p.N && c < p.C) {
        let idx = r * p.C + c;
        var x = acc[i * RN + j];
        if (p.accumulate != 0u) { x += dinp[idx]; }
        dinp[idx] = x;
      }
    }
  }
}
