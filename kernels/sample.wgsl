// sample: picks the next token from one decode step's logits, on the GPU, and advances the
// decode state (one workgroup). llama2.c run.c's sampler:
//   temperature == 0: argmax (the lowest index on ties);
//   else e_i = exp((logits_i - max) / temperature) (softmax numerators, Z = sum e_i) and
//   0 < top_p < 1: nucleus sampling: the set is the smallest set of most probable tokens whose
//     mass exceeds top_p * Z (run.c's sample_topp: cumulative > topp). It is found without
//     sorting: a bisection on the f32 bit pattern of a threshold b (positive floats order like
//     their bits) for the largest b with sum{e_i : bits(e_i) >= b} > top_p * Z; 31 steps pin b
//     to the bits of the last token in the set (tokens tied with it are all kept);
//   otherwise (top_p <= 0 or >= 1): plain multinomial over all tokens.
//   The coin is u = (bitsAt(seed, pos) >> 8) / 2^24 (src/model/rng.ts: hash32(hash32(seed) +
//   pos)); the token is the first i in index order whose running sum of kept e_i exceeds
//   u * (kept mass).
// Bindings:
//   state  [4] u32 read_write: (pos, token, done, unused). Unless done: next = prompt[pos + 1]
//          while pos + 1 < prompt_len (forced), else the sampled token; tokens[pos + 1] = next;
//          done = 1 when next == 1 (BOS) and stop_at_bos != 0, or pos + 1 >= steps; then
//          pos += 1, token = next. Once done nothing changes.
//   tokens [S + 1] u32 read_write: tokens[pos + 1] written with `=`
//   logits [V] f32
//   prompt [>= prompt_len] u32
//   probs  [V] f32 scratch, written with `=` (e_i)
struct Params {
  V: u32,
  temperature: f32,
  top_p: f32,
  seed: u32,
  prompt_len: u32,
  steps: u32,
  stop_at_bos: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> prompt: array<u32>;
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;

const WG = 64u;
var<workgroup> redf: array<f32, WG>;
var<workgroup> redi: array<u32, WG>;

fn hash32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn reduce_sum(l: u32, v: f32) -> f32 {
  redf[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { redf[l] += redf[l + w]; }
    workgroupBarrier();
  }
  let r = redf[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  let V = p.V;
  // Each invocation owns a contiguous chunk of the vocabulary (index order matters below).
  let chunk = (V + WG - 1u) / WG;
  let i0 = min(l * chunk, V);
  let i1 = min(i0 + chunk, V);

  // argmax, lowest index on ties
  var best = -3.4e38;
  var arg = 0xffffffffu;
  for (var i = i0; i < i1; i++) {
    let v = logits[i];
    if (v > best) { best = v; arg = i; }
  }
  redf[l] = best;
  redi[l] = arg;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) {
      let bo = redf[l + w];
      let io = redi[l + w];
      if (bo > redf[l] || (bo == redf[l] && io < redi[l])) {
        redf[l] = bo;
        redi[l] = io;
      }
    }
    workgroupBarrier();
  }
  let mx = redf[0];
  var next = redi[0];
  workgroupBarrier();

  if (p.temperature > 0.0) {
    var zl = 0.0;
    for (var i = i0; i < i1; i++) {
      let e = exp((logits[i] - mx) / p.temperature);
      probs[i] = e;
      zl += e;
    }
    let z = reduce_sum(l, zl);
    var lo = 0u;
    if (p.top_p > 0.0 && p.top_p < 1.0) {
      let goal = p.top_p * z;
      var hi = 0x3f800001u; // bits(1.0) + 1: no e_i reaches it
      for (var it = 0u; it < 31u; it++) {
        let mid = lo + (hi - lo) / 2u;
        var ml = 0.0;
        for (var i = i0; i < i1; i++) {
          let e = probs[i];
          if (bitcast<u32>(e) >= mid) { ml += e; }
        }
        if (reduce_sum(l, ml) > goal) { lo = mid; } else { hi = mid; }
      }
    }
    // kept mass per chunk, then invocation 0 walks the chunks in order
    var cl = 0.0;
    for (var i = i0; i < i1; i++) {
      let e = probs[i];
      if (bitcast<u32>(e) >= lo) { cl += e; }
    }
    redf[l] = cl;
    storageBarrier();
    workgroupBarrier();
    if (l == 0u) {
      var total = 0.0;
      for (var c = 0u; c < WG; c++) { total += redf[c]; }
      let coin = f32(hash32(hash32(p.seed) + state[0]) >> 8u) / 16777216.0;
      let r = coin * total;
      var acc = 0.0;
      for (var c = 0u; c < WG; c++) {
        if (acc + redf[c] > r) {
          let c0 = min(c * chunk, V);
          let c1 = min(c0 + chunk, V);
          var a = acc;
          for (var i = c0; i < c1; i++) {
            let e = probs[i];
            if (bitcast<u32>(e) >= lo) {
              a += e;
              next = i; // the last kept token of the chunk if rounding never passes r
              if (a > r) { break; }
            }
          }
          break;
        }
        acc += redf[c];
      }
    }
  }

  if (l == 0u && state[2] == 0u) {
    let pos = state[0];
    if (pos + 1u < p.prompt_len) { next = prompt[pos + 1u]; }
    tokens[pos + 1u] = next;
    state[0] = pos + 1u;
    state[1] = next;
    if ((p.stop_at_bos != 0u && next == 1u) || pos + 1u >= p.steps) { state[2] = 1u; }
  }
}
