// token_decode: whole decode steps of a small model in ONE workgroup: embedding, every layer
// (RMSNorm, q/k/v, RoPE and the KV cache write, attention over the cache, wo + residual, RMSNorm,
// w1/w3 + SwiGLU, w2 + residual), the final RMSNorm, the classifier and the sampler (kernels/
// _sample.wgsl, appended with _hash.wgsl by the launcher), for up to `tokens_per_dispatch`
// positions in a loop. Phases are separated by barriers instead of dispatches: on a CPU adapter a
// workgroup of 8 is one SIMD vector and a barrier costs ~30 ns, against ~40 us per dispatch.
// The model's sizes are override constants, so small loops (head size, heads per KV head) unroll
// and their loads have constant offsets.
// Bindings (all sizes in f32 unless said):
//   weights     read: the decode layout of the parameters (src/model/decode_layout.ts), as vec4:
//               tok_embeddings [V, C] at `emb`; layer l's block at layer0 + l * layer_stride holds
//               rms_att [C], wqkv [C + 2 KV, C] (wq; wk; wv rows), wo [C, C], rms_ffn [C],
//               w13 [2 H, C] (rows w1[i], w3[i] interleaved), w2 [C, H] at the given offsets;
//               rms_final [C]; wcls [V, C] (= emb when tied). Offsets are in floats, multiples
//               of 4.
//   freqs       read: cos [S, HS/2] then sin [S, HS/2] at sin_offset (model.py's freqs_cis)
//   kv_cache    read_write: keys [L, S, KV] at 0, values [L, S, KV] at value_offset; row
//               (l, pos) written with `=` each step, rows 0..pos read
//   state       read_write [4] u32: (pos, token, done, unused), as kernels/sample.wgsl
//   tokens      read_write [S + 1] u32: tokens[pos + 1] written with `=`
//   prompt      read [>= prompt_len] u32: forced tokens
//   logits      read_write [V]: the last step's logits, written with `=`
//   scratch     read_write: x [C], xn [C], q [C], att [C], hg [H], probs [V], in that order
//               (written with `=`; x is the residual stream)
// Each phase computes model.py's formulas in f32:
//   xn = x * rsqrt(mean(x²) + eps) * w (rmsnorm_decode); y = W · xn by rows (4 rows per
//   invocation, one xn load feeding 4 rows); RoPE pair (y0, y1) -> (y0 cos - y1 sin,
//   y0 sin + y1 cos); silu(h) = h / (1 + exp(-h)).
//   Attention of head h over t = 0..pos: s_t = q_h · k_t / sqrt(HS), out_h = sum_t e^(s_t - m)
//   v_t / sum_t e^(s_t - m), m = max_t s_t. Invocation l < AL takes t = l, l + AL, ... for the G
//   heads sharing a KV head (one k and v load serves G heads) with a running max (when the max
//   rises from m to m', the sums so far are scaled by e^(m - m')); the AL partial (m, z, acc) are
//   then merged through workgroup memory: M = max m_l, out = sum acc_l e^(m_l - M) /
//   sum z_l e^(m_l - M).
// Requires C % 4 == 0, H % 4 == 0, C = NH * HS, HS even, G * HS <= 64, AL * G * (HS + 2) <= 3072,
// WG a power of two (the launcher checks).
struct Params {
  L: u32,
  eps: f32,
  emb: u32,
  layer0: u32,
  layer_stride: u32,
  rms_att: u32,
  wqkv: u32,
  wo: u32,
  rms_ffn: u32,
  w13: u32,
  w2: u32,
  rms_final: u32,
  wcls: u32,
  sin_offset: u32,
  value_offset: u32,
  tokens_per_dispatch: u32,
  temperature: f32,
  top_p: f32,
  seed: u32,
  prompt_len: u32,
  steps: u32,
  stop_at_bos: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4f>;
@group(0) @binding(2) var<storage, read> freqs: array<f32>;
@group(0) @binding(3) var<storage, read_write> kv_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(6) var<storage, read> prompt: array<u32>;
@group(0) @binding(7) var<storage, read_write> logits: array<f32>;
@group(0) @binding(8) var<storage, read_write> scratch: array<f32>;

// Invocations in the workgroup (a power of two, at most 256).
override WG: u32 = 8;
// Invocations that run the attention loop over t (at most WG).
override AL: u32 = 8;
// Model sizes: width, FFN width, vocabulary, heads, KV heads, head size, cache length.
override C: u32;
override H: u32;
override V: u32;
override NH: u32;
override NKV: u32;
override HS: u32;
override S: u32;

// Attention partials per invocation: G * HS sums (G = NH / NKV) and G maxima and G totals.
const MAX_ACC = 64u;
const MAX_G = 32u;
var<workgroup> at_red: array<f32, 3072>;
var<workgroup> wg_state: vec3u;

fn smp_logit(i: u32) -> f32 { return logits[i]; }
fn smp_prob(i: u32) -> f32 { return scratch[PROBS + i]; }
fn smp_set_prob(i: u32, v: f32) { scratch[PROBS + i] = v; }

// scratch offsets
const X = 0u;
override XN: u32 = C;
override Q: u32 = 2u * C;
override ATT: u32 = 3u * C;
override HG: u32 = 4u * C;
override PROBS: u32 = 4u * C + H;

fn scratch4(o: u32) -> vec4f {
  return vec4f(scratch[o], scratch[o + 1u], scratch[o + 2u], scratch[o + 3u]);
}

// Rows r0 .. r0 + 3 (clamped to rows - 1) of the [rows, n] matrix at float offset w, times
// scratch[xo .. xo + n).
fn rows4(w: u32, n: u32, rows: u32, r0: u32, xo: u32) -> vec4f {
  let last = rows - 1u;
  let n4 = n / 4u;
  let w0 = w / 4u + min(r0, last) * n4;
  let w1 = w / 4u + min(r0 + 1u, last) * n4;
  let w2 = w / 4u + min(r0 + 2u, last) * n4;
  let w3 = w / 4u + min(r0 + 3u, last) * n4;
  var acc = vec4f(0.0);
  for (var k = 0u; k < n4; k++) {
    let a = scratch4(xo + 4u * k);
    acc += vec4f(dot(a, weights[w0 + k]), dot(a, weights[w1 + k]), dot(a, weights[w2 + k]),
                 dot(a, weights[w3 + k]));
  }
  return acc;
}

// xn = RMSNorm(x) * weights[g ..]: every invocation sums x² itself, then writes its share of xn.
// The caller synchronises before xn is read.
fn rmsnorm(l: u32, g: u32) {
  var ss = 0.0;
  for (var i = 0u; i < C; i++) {
    let v = scratch[X + i];
    ss = fma(v, v, ss);
  }
  let rstd = inverseSqrt(ss / f32(C) + p.eps);
  for (var i4 = l; i4 < C / 4u; i4 += WG) {
    let gv = weights[g / 4u + i4];
    for (var j = 0u; j < 4u; j++) {
      let i = 4u * i4 + j;
      scratch[XN + i] = scratch[X + i] * rstd * gv[j];
    }
  }
}

// x[r] += rows r of the [C, n] matrix at w times scratch[xo ..] (wo and w2 with the residual)
fn residual_matvec(l: u32, w: u32, n: u32, xo: u32) {
  for (var j = 0u; j < (C + 4u * WG - 1u) / (4u * WG); j++) {
    let r0 = 4u * (j * WG + l);
    let y = rows4(w, n, C, r0, xo);
    for (var i = 0u; i < 4u; i++) {
      if (r0 + i < C) { scratch[X + r0 + i] += y[i]; }
    }
  }
}

fn attention(l: u32, li: u32, pos: u32) {
  let G = NH / NKV;
  let KV = NKV * HS;
  let T = pos + 1u;
  let kBase = li * S * KV;
  let scale = 1.0 / sqrt(f32(HS));
  for (var kvh = 0u; kvh < NKV; kvh++) {
    var q: array<f32, MAX_ACC>;
    var acc: array<f32, MAX_ACC>;
    var m: array<f32, MAX_G>;
    var z: array<f32, MAX_G>;
    for (var g = 0u; g < G; g++) {
      m[g] = -3.0e38;
      z[g] = 0.0;
      for (var i = 0u; i < HS; i++) {
        q[g * HS + i] = scratch[Q + (kvh * G + g) * HS + i];
        acc[g * HS + i] = 0.0;
      }
    }
    if (l < AL) {
      for (var t = l; t < T; t += AL) {
        let ko = kBase + t * KV + kvh * HS;
        var kv: array<f32, MAX_ACC>;
        for (var i = 0u; i < HS; i++) { kv[i] = kv_cache[ko + i]; }
        var e: array<f32, MAX_G>;
        var corr: array<f32, MAX_G>;
        for (var g = 0u; g < G; g++) {
          var s = 0.0;
          for (var i = 0u; i < HS; i++) { s = fma(q[g * HS + i], kv[i], s); }
          s = s * scale;
          let mNew = max(m[g], s);
          corr[g] = exp(m[g] - mNew);
          e[g] = exp(s - mNew);
          z[g] = z[g] * corr[g] + e[g];
          m[g] = mNew;
        }
        for (var i = 0u; i < HS; i++) { kv[i] = kv_cache[p.value_offset + ko + i]; }
        for (var g = 0u; g < G; g++) {
          for (var i = 0u; i < HS; i++) {
            acc[g * HS + i] = fma(acc[g * HS + i], corr[g], e[g] * kv[i]);
          }
        }
      }
      // partials of invocation l: m [G], z [G], acc [G * HS]
      let o = l * G * (HS + 2u);
      for (var g = 0u; g < G; g++) {
        at_red[o + g] = m[g];
        at_red[o + G + g] = z[g];
        for (var i = 0u; i < HS; i++) { at_red[o + 2u * G + g * HS + i] = acc[g * HS + i]; }
      }
    }
    workgroupBarrier();
    for (var oi = l; oi < G * HS; oi += WG) {
      let g = oi / HS;
      var mx = -3.0e38;
      for (var a = 0u; a < AL; a++) { mx = max(mx, at_red[a * G * (HS + 2u) + g]); }
      var zt = 0.0;
      var at = 0.0;
      for (var a = 0u; a < AL; a++) {
        let o = a * G * (HS + 2u);
        let f = exp(at_red[o + g] - mx);
        zt = fma(at_red[o + G + g], f, zt);
        at = fma(at_red[o + 2u * G + oi], f, at);
      }
      scratch[ATT + kvh * G * HS + oi] = at / zt;
    }
    workgroupBarrier();
  }
}

fn run_layer(l: u32, li: u32, pos: u32) {
  let KV = NKV * HS;
  let half = HS / 2u;
  let base = p.layer0 + li * p.layer_stride;

  // 1. xn = RMSNorm(x) * rms_att
  rmsnorm(l, base + p.rms_att);
  storageBarrier();

  // 2. q, k, v = wqkv · xn, 4 rows (2 RoPE pairs: C and KV are even, so a pair never straddles
  //    q/k/v) per invocation; RoPE rotates q and k pairs; k and v go to cache row (li, pos).
  let rows = C + 2u * KV;
  let cacheRow = (li * S + pos) * KV;
  for (var j = 0u; j < (rows + 4u * WG - 1u) / (4u * WG); j++) {
    let r0 = 4u * (j * WG + l);
    let y = rows4(base + p.wqkv, C, rows, r0, XN);
    for (var i = 0u; i < 4u; i += 2u) {
      let r = r0 + i;
      if (r >= rows) { break; }
      if (r >= C + KV) {
        kv_cache[p.value_offset + cacheRow + r - C - KV] = y[i];
        kv_cache[p.value_offset + cacheRow + r - C - KV + 1u] = y[i + 1u];
        continue;
      }
      let pr = (r % HS) / 2u;
      let c = freqs[pos * half + pr];
      let s = freqs[p.sin_offset + pos * half + pr];
      let r0v = y[i] * c - y[i + 1u] * s;
      let r1v = y[i] * s + y[i + 1u] * c;
      if (r < C) {
        scratch[Q + r] = r0v;
        scratch[Q + r + 1u] = r1v;
      } else {
        kv_cache[cacheRow + r - C] = r0v;
        kv_cache[cacheRow + r - C + 1u] = r1v;
      }
    }
  }
  storageBarrier();

  // 3. att = attention(q, cache rows 0..pos)
  attention(l, li, pos);
  storageBarrier();

  // 4. x += wo · att
  residual_matvec(l, base + p.wo, C, ATT);
  storageBarrier();

  // 5. xn = RMSNorm(x) * rms_ffn; hg = silu(w1 · xn) * (w3 · xn), w13 rows (w1[i], w3[i])
  rmsnorm(l, base + p.rms_ffn);
  storageBarrier();
  for (var j = 0u; j < (2u * H + 4u * WG - 1u) / (4u * WG); j++) {
    let r0 = 4u * (j * WG + l);
    let y = rows4(base + p.w13, C, 2u * H, r0, XN);
    for (var i = 0u; i < 2u; i++) {
      let o = r0 / 2u + i;
      if (o < H) { scratch[HG + o] = y[2u * i] / (1.0 + exp(-y[2u * i])) * y[2u * i + 1u]; }
    }
  }
  storageBarrier();

  // 6. x += w2 · hg
  residual_matvec(l, base + p.w2, H, HG);
  storageBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  for (var step = 0u; step < p.tokens_per_dispatch; step++) {
    if (l == 0u) { wg_state = vec3u(state[0], state[1], state[2]); }
    let st = workgroupUniformLoad(&wg_state);
    if (st.z != 0u) { break; }
    let pos = st.x;

    // x = tok_embeddings[token]
    for (var i4 = l; i4 < C / 4u; i4 += WG) {
      let v = weights[(p.emb + st.y * C) / 4u + i4];
      for (var j = 0u; j < 4u; j++) { scratch[X + 4u * i4 + j] = v[j]; }
    }
    storageBarrier();

    for (var li = 0u; li < p.L; li++) { run_layer(l, li, pos); }

    // logits = wcls · RMSNorm(x) * rms_final
    rmsnorm(l, p.rms_final);
    storageBarrier();
    for (var j = 0u; j < (V + 4u * WG - 1u) / (4u * WG); j++) {
      let r0 = 4u * (j * WG + l);
      let y = rows4(p.wcls, C, V, r0, XN);
      for (var i = 0u; i < 4u; i++) {
        if (r0 + i < V) { logits[r0 + i] = y[i]; }
      }
    }
    storageBarrier();

    // next token (kernels/sample.wgsl's state update)
    var next = sample_pick(l, V, p.temperature, p.top_p, p.seed, pos);
    if (l == 0u) {
      if (pos + 1u < p.prompt_len) { next = prompt[pos + 1u]; }
      tokens[pos + 1u] = next;
      state[0] = pos + 1u;
      state[1] = next;
      if ((p.stop_at_bos != 0u && next == 1u) || pos + 1u >= p.steps) { state[2] = 1u; }
    }
    storageBarrier();
  }
}
