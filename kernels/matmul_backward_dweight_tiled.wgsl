// matmul_backward_dweight_tiled: dweight += doutᵀ · inp, the same contract as
// matmul_backward_dweight, shaped for GPUs, optionally split over N (split-K).
//   dweight [S, OC, C] f32: with S == 1 the gradient itself, written with `+=`; with S > 1 a
//           scratch buffer of S partial sums, each written with `=` (matmul_backward_dweight_reduce
//           then adds them into the gradient in order of s)
//   dout    [N, OC] f32, read as vec4 [N, OC/4]
//   inp     [N, C]  f32, read as vec4 [N, C/4]
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dweight[o, c] = sum_n dL/dout[n, o] * inp[n, c], i.e. dweight += doutᵀ · inp.
//
// As matmul_forward_tiled with rows o, columns c and k = n: a workgroup of TX x TY invocations
// computes a BM x BN block of dweight (BM = TY * RM rows of OC, BN = TX * RN columns of C) over
// the rows n of its split, workgroup_id.z = s: KC * s <= n < min(N, KC * (s + 1)). Each stage of
// BK = 16 rows n reads dout and inp as vec4s along o and c and transposes them into workgroup
// memory as vec4s along n. Each output is summed in order of n within its split, and the splits
// are added in order of s (deterministic, no atomics). Loads past N, OC or C read zeros; stores
// are guarded. Requires C % 4 == 0, OC % 4 == 0, KC % 16 == 0; RM, RN at most 8; TY * RM and
// TX * RN multiples of 4.
struct Params { N: u32, C: u32, OC: u32, KC: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<vec4f>;
@group(0) @binding(3) var<storage, read> inp: array<vec4f>;

// Invocations along C (columns) and along OC (rows).
override TX: u32 = 16;
override TY: u32 = 16;
// Micro-tile of each invocation: RM rows x RN columns (1..8 each).
override RM: u32 = 4;
override RN: u32 = 4;
override BM: u32 = TY * RM;
override BN: u32 = TX * RN;
// vec4s of n per stage, and the padded row stride of the staged tiles.
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
  let s = wid.z;
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let BM4 = BM / 4u;
  let BN4 = BN / 4u;
  let kEnd = min(p.N, (s + 1u) * p.KC);
  var acc: array<f32, 64>;
  for (var k0 = s * p.KC; k0 < kEnd; k0 += BK4 * 4u) {
    for (var l = lid; l < BM4 * BK4 * 4u; l += TX * TY) {
      let rq = l % BM4;
      let kk = l / BM4;
      var v = vec4f(0.0);
      if (m0 / 4u + rq < OC4 && k0 + kk < kEnd) { v = dout[(k0 + kk) * OC4 + m0 / 4u + rq]; }
      for (var e = 0u; e < 4u; e++) { As[(rq * 4u + e) * KP + kk / 4u][kk % 4u] = v[e]; }
    }
    for (var l = lid; l < BN4 * BK4 * 4u; l += TX * TY) {
      let cq = l % BN4;
      let kk = l / BN4;
      var v = vec4f(0.0);
      if (n0 / 4u + cq < C4 && k0 + kk < kEnd) { v = inp[(k0 + kk) * C4 + n0 / 4u + cq]; }
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
      if (r < p.OC && c < p.C) {
        let idx = r * p.C + c;
        if (p.S == 1u) {
          dweight[idx] = dweight[idx] + acc[i * RN + j];
        } else {
          dweight[s * p.OC * p.C + idx] = acc[i * RN + j];
        }
      }
    }
  }
}
