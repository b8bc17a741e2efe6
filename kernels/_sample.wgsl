// _sample: snippet (not a kernel) appended by launchers, after _hash.wgsl, to the kernels that
// pick the next token on the GPU (sample, token_decode): llama2.c run.c's sampler over V logits,
// run by one workgroup.
//   temperature == 0: argmax (the lowest index on ties);
//   else e_i = exp((logit_i - max) / temperature) (softmax numerators, Z = sum e_i) and
//   0 < top_p < 1: nucleus sampling: the set is the smallest set of most probable tokens whose
//     mass exceeds top_p * Z (run.c's sample_topp: cumulative > topp). It is found without
//     sorting: a bisection on the f32 bit pattern of a threshold b (positive floats order like
//     their bits) for the largest b with sum{e_i : bits(e_i) >= b} > top_p * Z; 31 steps pin b
//     to the bits of the last token in the set (tokens tied with it are all kept);
//   otherwise (top_p <= 0 or >= 1): plain multinomial over all tokens.
//   The coin is u = (bitsAt(seed, pos) >> 8) / 2^24 (src/model/rng.ts: hash32(hash32(seed) +
//   pos)); the token is the first i in index order whose running sum of kept e_i exceeds
//   u * (kept mass).
// The including kernel declares: `WG` (invocations per workgroup, a power of two <= 256),
// `smp_logit(i) -> f32`, `smp_prob(i) -> f32`, `smp_set_prob(i, v)` over its logits and its
// [V] scratch for e_i, and `smp_sync()`: storageBarrier() + workgroupBarrier(), or nothing in a
// kernel whose workgroup runs in lockstep (then sample_pick has no barrier). Call sample_pick
// with every invocation (from uniform control flow when smp_sync has barriers).

var<workgroup> smp_f: array<f32, 256>;
var<workgroup> smp_i: array<u32, 256>;

fn smp_reduce_sum(l: u32, v: f32) -> f32 {
  smp_f[l] = v;
  smp_sync();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { smp_f[l] += smp_f[l + w]; }
    smp_sync();
  }
  let r = smp_f[0];
  smp_sync();
  return r;
}

// The sampled token (valid in invocation 0; at temperature 0 in every invocation).
fn sample_pick(l: u32, V: u32, temperature: f32, top_p: f32, seed: u32, pos: u32) -> u32 {
  // Each invocation owns a contiguous chunk of the vocabulary (index order matters below).
  let chunk = (V + WG - 1u) / WG;
  let i0 = min(l * chunk, V);
  let i1 = min(i0 + chunk, V);

  // argmax, lowest index on ties
  var best = -3.4e38;
  var arg = 0xffffffffu;
  for (var i = i0; i < i1; i++) {
    let v = smp_logit(i);
    if (v > best) { best = v; arg = i; }
  }
  smp_f[l] = best;
  smp_i[l] = arg;
  smp_sync();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) {
      let bo = smp_f[l + w];
      let io = smp_i[l + w];
      if (bo > smp_f[l] || (bo == smp_f[l] && io < smp_i[l])) {
        smp_f[l] = bo;
        smp_i[l] = io;
      }
    }
    smp_sync();
  }
  let mx = smp_f[0];
  var next = smp_i[0];
  smp_sync();
  if (temperature <= 0.0) { return next; }

  var zl = 0.0;
  for (var i = i0; i < i1; i++) {
    let e = exp((smp_logit(i) - mx) / temperature);
    smp_set_prob(i, e);
    zl += e;
  }
  let z = smp_reduce_sum(l, zl);
  var lo = 0u;
  if (top_p > 0.0 && top_p < 1.0) {
    let goal = top_p * z;
    var hi = 0x3f800001u; // bits(1.0) + 1: no e_i reaches it
    for (var it = 0u; it < 31u; it++) {
      let mid = lo + (hi - lo) / 2u;
      var ml = 0.0;
      for (var i = i0; i < i1; i++) {
        let e = smp_prob(i);
        if (bitcast<u32>(e) >= mid) { ml += e; }
      }
      if (smp_reduce_sum(l, ml) > goal) { lo = mid; } else { hi = mid; }
    }
  }
  // kept mass per chunk, then invocation 0 walks the chunks in order
  var cl = 0.0;
  for (var i = i0; i < i1; i++) {
    let e = smp_prob(i);
    if (bitcast<u32>(e) >= lo) { cl += e; }
  }
  smp_f[l] = cl;
  smp_sync();
  if (l == 0u) {
    var total = 0.0;
    for (var c = 0u; c < WG; c++) { total += smp_f[c]; }
    let coin = f32(hash32(hash32(seed) + pos) >> 8u) / 16777216.0;
    let r = coin * total;
    var acc = 0.0;
    for (var c = 0u; c < WG; c++) {
      if (acc + smp_f[c] > r) {
        let c0 = min(c * chunk, V);
        let c1 = min(c0 + chunk, V);
        var a = acc;
        for (var i = c0; i < c1; i++) {
          let e = smp_prob(i);
          if (bitcast<u32>(e) >= lo) {
            a += e;
            next = i; // the last kept token of the chunk if rounding never passes r
            if (a > r) { break; }
          }
        }
        break;
      }
      acc += smp_f[c];
    }
  }
  smp_sync();
  return next;
}
