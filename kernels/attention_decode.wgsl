// attention_decode: causal attention of one query position over the KV cache (one decode step),
// with grouped KV heads. One workgroup per query head h; its KV head is h / (NH / NKV).
//   out         [NH * HS] f32, written with `=`
//   q           [NH * HS] f32 (rotated)
//   key_cache   [L, S, NKV * HS] f32, rows (layer, 0..pos) are read
//   value_cache [L, S, NKV * HS] f32
//   att         [NH, S] f32 scratch, written with `=` (the unnormalised softmax weights)
//   state       [4] u32 decode state (pos, token, done, unused); pos is clamped to S - 1
// With T = pos + 1:
//   s_t = q_h · k_t / sqrt(HS), m = max_t s_t, e_t = exp(s_t - m), Z = sum_t e_t,
//   out_h[i] = (sum_t e_t * v_t[i]) / Z.
// Phase 3 splits the HS outputs over the workgroup: invocation l sums dimension l % HS over the
// t of group l / HS (G = WG / HS groups), then the groups are added; when HS > WG each
// invocation owns whole dimensions.
struct Params { NH: u32, NKV: u32, HS: u32, S: u32, layer: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> key_cache: array<f32>;
@group(0) @binding(4) var<storage, read> value_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> att: array<f32>;
@group(0) @binding(6) var<storage, read> state: array<u32>;

const WG = 64u;
var<workgroup> red: array<f32, WG>;

fn reduce_max(l: u32, v: f32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { red[l] = max(red[l], red[l + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(l: u32, v: f32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { red[l] += red[l + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let l = lid.x;
  let h = wid.x;
  let HS = p.HS;
  let KV = p.NKV * HS;
  let T = min(state[0], p.S - 1u) + 1u;
  let qo = h * HS;
  let kvh = h / (p.NH / p.NKV);
  let base = p.layer * p.S * KV + kvh * HS;
  let scale = 1.0 / sqrt(f32(HS));
  let ao = h * p.S;

  var m = -3.0e38;
  for (var t = l; t < T; t += WG) {
    let ko = base + t * KV;
    var s = 0.0;
    for (var i = 0u; i < HS; i++) { s = fma(q[qo + i], key_cache[ko + i], s); }
    s = s * scale;
    att[ao + t] = s;
    m = max(m, s);
  }
  m = reduce_max(l, m);

  var z = 0.0;
  for (var t = l; t < T; t += WG) {
    let e = exp(att[ao + t] - m);
    att[ao + t] = e;
    z += e;
  }
  z = reduce_sum(l, z);
  storageBarrier();

  if (HS <= WG) {
    let G = WG / HS;
    let i = l % HS;
    let g = l / HS;
    var acc = 0.0;
    if (g < G) {
      for (var t = g; t < T; t += G) { acc = fma(att[ao + t], value_cache[base + t * KV + i], acc); }
    }
    red[l] = acc;
    workgroupBarrier();
    if (l < HS) {
      var sum = 0.0;
      for (var gg = 0u; gg < G; gg++) { sum += red[gg * HS + l]; }
      out[qo + l] = sum / z;
    }
  } else {
    for (var i = l; i < HS; i += WG) {
      var acc = 0.0;
      for (var t = 0u; t < T; t++) { acc = fma(att[ao + t], value_cache[base + t * KV + i], acc); }
      out[qo + i] = acc / z;
    }
  }
}
