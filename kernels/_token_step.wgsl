// _token_step: snippet (not a kernel) appended by launchers, with _hash.wgsl and _sample.wgsl, to
// token_decode and token_decode_lockstep: the phases of one whole decode step of a small model
// run by one workgroup (see kernels/token_decode.wgsl for the bindings and the formulas).
// The including kernel declares the Params `p` and the bindings of token_decode (the weights as
// a buffer or a texture), the overrides WG, AL, HS, G, `sync()`: storageBarrier() +
// workgroupBarrier() between phases, or nothing when the workgroup runs in lockstep
// (token_decode_lockstep), and `wload(i) -> vec4f`: vec4 i of the decode-layout weights. The
// launcher appends the matvec of the phases, `phase_matvec`: kernels/_token_matvec.wgsl (weights
// from a storage buffer) or _token_matvec_tex.wgsl (from a texture).
// Register arrays of the attention loop: G * HS / 4 vec4 and G scalars.
const MAX_ACC4 = 16u;
const MAX_G = 16u;
var<workgroup> at_red: array<f32, 3072>;

// scratch vec4 offsets
fn xn_at() -> u32 { return p.C / 4u; }
fn q_at() -> u32 { return p.C / 2u; }
fn att_at() -> u32 { return 3u * p.C / 4u; }
fn hg_at() -> u32 { return p.C; }
fn probs_at() -> u32 { return p.C + p.H / 4u; }

fn smp_sync() { sync(); }
fn smp_logit(i: u32) -> f32 { return logits[i]; }
fn smp_prob(i: u32) -> f32 { return scratch[probs_at() + i / 4u][i % 4u]; }
fn smp_set_prob(i: u32, v: f32) { scratch[probs_at() + i / 4u][i % 4u] = v; }

// xn = RMSNorm(x) * weight vec4s g/4 ..: every invocation sums x² itself, then writes its share of xn.
// The caller synchronises before xn is read.
fn rmsnorm(l: u32, g: u32) {
  let C4 = p.C / 4u;
  var ss = vec4f(0.0);
  for (var i = 0u; i < C4; i++) {
    let v = scratch[i];
    ss = fma(v, v, ss);
  }
  let rstd = inverseSqrt((ss.x + ss.y + ss.z + ss.w) / f32(p.C) + p.eps);
  for (var i = l; i < C4; i += WG) { scratch[xn_at() + i] = scratch[i] * rstd * wload(g / 4u + i); }
}

fn attention(l: u32, li: u32, pos: u32) {
  let HS4 = HS / 4u;
  let KV4 = p.NKV * HS4;
  let T = pos + 1u;
  let kBase = li * p.S * KV4;
  let vBase = p.value_offset / 4u + kBase;
  let scale = 1.0 / sqrt(f32(HS));
  for (var kvh = 0u; kvh < p.NKV; kvh++) {
    var q: array<vec4f, MAX_ACC4>;
    var acc: array<vec4f, MAX_ACC4>;
    var m: array<f32, MAX_G>;
    var z: array<f32, MAX_G>;
    for (var g = 0u; g < G; g++) {
      m[g] = -3.0e38;
      z[g] = 0.0;
      for (var i = 0u; i < HS4; i++) {
        q[g * HS4 + i] = scratch[q_at() + (kvh * G + g) * HS4 + i];
        acc[g * HS4 + i] = vec4f(0.0);
      }
    }
    if (l < AL) {
      for (var t = l; t < T; t += AL) {
        let ko = t * KV4 + kvh * HS4;
        var kv: array<vec4f, MAX_ACC4>;
        for (var i = 0u; i < HS4; i++) { kv[i] = kv_cache[kBase + ko + i]; }
        var e: array<f32, MAX_G>;
        var corr: array<f32, MAX_G>;
        for (var g = 0u; g < G; g++) {
          var s = 0.0;
          for (var i = 0u; i < HS4; i++) { s += dot(q[g * HS4 + i], kv[i]); }
          s = s * scale;
          let mNew = max(m[g], s);
          corr[g] = exp(m[g] - mNew);
          e[g] = exp(s - mNew);
          z[g] = z[g] * corr[g] + e[g];
          m[g] = mNew;
        }
        for (var i = 0u; i < HS4; i++) { kv[i] = kv_cache[vBase + ko + i]; }
        for (var g = 0u; g < G; g++) {
          for (var i = 0u; i < HS4; i++) {
            acc[g * HS4 + i] = fma(acc[g * HS4 + i], vec4f(corr[g]), e[g] * kv[i]);
          }
        }
      }
      // partials of invocation l: m [G], z [G], acc [G * HS]
      let o = l * G * (HS + 2u);
      for (var g = 0u; g < G; g++) {
        at_red[o + g] = m[g];
        at_red[o + G + g] = z[g];
        for (var i = 0u; i < HS4; i++) {
          for (var c = 0u; c < 4u; c++) {
            at_red[o + 2u * G + (g * HS4 + i) * 4u + c] = acc[g * HS4 + i][c];
          }
        }
      }
    }
    sync();
    for (var oi = l; oi < G * HS4; oi += WG) {
      let g = oi / HS4;
      var mx = -3.0e38;
      for (var a = 0u; a < AL; a++) { mx = max(mx, at_red[a * G * (HS + 2u) + g]); }
      var zt = 0.0;
      var at = vec4f(0.0);
      for (var a = 0u; a < AL; a++) {
        let o = a * G * (HS + 2u);
        let f = exp(at_red[o + g] - mx);
        zt = fma(at_red[o + G + g], f, zt);
        let ao = o + 2u * G + 4u * oi;
        at = fma(vec4f(at_red[ao], at_red[ao + 1u], at_red[ao + 2u], at_red[ao + 3u]), vec4f(f), at);
      }
      scratch[att_at() + kvh * G * HS4 + oi] = at / zt;
    }
    sync();
  }
}

// The output of 4 rows r .. r + 3 of phase `kind`'s matvec (see token_forward):
//   0: q, k, v rows (one vec4 of q, k or v: C and KV are multiples of 4, i.e. two RoPE pairs of
//      one head); q rotated into scratch, k rotated and v into cache row (li, pos);
//   1, 3: x += wo · att, x += w2 · hg (the residual);
//   2: w13 rows (w1[i], w3[i], w1[i+1], w3[i+1]): hg[i], hg[i+1] = silu(h1) * h3;
//   4: logits.
fn epilogue(kind: u32, r: u32, y: vec4f, li: u32, pos: u32) {
  let C = p.C;
  let KV = p.NKV * HS;
  switch kind {
    case 0u: {
      let cacheRow = (li * p.S + pos) * KV / 4u;
      if (r >= C + KV) {
        kv_cache[p.value_offset / 4u + cacheRow + (r - C - KV) / 4u] = y;
      } else {
        let pr = pos * (HS / 2u) + (r % HS) / 2u;
        let c = vec2f(freqs[pr], freqs[pr + 1u]);
        let s = vec2f(freqs[p.sin_offset + pr], freqs[p.sin_offset + pr + 1u]);
        let rot = vec4f(y.x * c.x - y.y * s.x, y.x * s.x + y.y * c.x,
                        y.z * c.y - y.w * s.y, y.z * s.y + y.w * c.y);
        if (r < C) { scratch[q_at() + r / 4u] = rot; } else { kv_cache[cacheRow + (r - C) / 4u] = rot; }
      }
    }
    case 1u, 3u: {
      scratch[r / 4u] += y;
    }
    case 2u: {
      let o = r / 2u;
      scratch[hg_at() + o / 4u][o % 4u] = y.x / (1.0 + exp(-y.x)) * y.y;
      if (o + 1u < p.H) { scratch[hg_at() + o / 4u][o % 4u + 1u] = y.z / (1.0 + exp(-y.z)) * y.w; }
    }
    default: {
      for (var i = 0u; i < 4u; i++) {
        if (r + i < p.V) { logits[r + i] = y[i]; }
      }
    }
  }
}

// One decode step at `pos` for `token`: x = tok_embeddings[token], then per layer 4 matvec
// phases (1. xn = RMSNorm(x) * rms_att, q/k/v = wqkv · xn with RoPE and the cache write, then
// attention; 2. x += wo · att; 3. xn = RMSNorm(x) * rms_ffn, hg = SwiGLU(w13 · xn);
// 4. x += w2 · hg), then 5. logits = wcls · RMSNorm(x) * rms_final. The phases run in ONE loop
// so that the matvec (and each other step) is compiled once: every inlined copy of the matvec
// costs the driver seconds of compile time.
fn token_forward(l: u32, pos: u32, token: u32) {
  let C4 = p.C / 4u;
  let e = p.emb / 4u + (token / p.tile) * C4 * p.tile + token % p.tile;
  for (var i = l; i < C4; i += WG) { scratch[i] = wload(e + i * p.tile); }
  sync();

  for (var ph = 0u; ph <= 4u * p.L; ph++) {
    let li = ph / 4u;
    let kind = select(ph % 4u, 4u, ph == 4u * p.L);
    let base = p.layer0 + li * p.layer_stride;
    // the phase's norm weight (kinds 0, 2, 4), matrix, inner size, rows and input
    var g = p.rms_final;
    var w = p.wcls;
    var n4 = C4;
    var rows = p.V;
    var x4 = xn_at();
    switch kind {
      case 0u: {
        g = base + p.rms_att;
        w = base + p.wqkv;
        rows = p.C + 2u * p.NKV * HS;
      }
      case 1u: {
        w = base + p.wo;
        rows = p.C;
        x4 = att_at();
      }
      case 2u: {
        g = base + p.rms_ffn;
        w = base + p.w13;
        rows = 2u * p.H;
      }
      case 3u: {
        w = base + p.w2;
        n4 = p.H / 4u;
        rows = p.C;
        x4 = hg_at();
      }
      default: {}
    }
    if (kind % 2u == 0u) {
      rmsnorm(l, g);
      sync();
    }
    phase_matvec(l, kind, w, n4, rows, x4, li, pos);
    sync();
    if (kind == 0u) {
      attention(l, li, pos);
      sync();
    }
  }
}

// The next token (kernels/sample.wgsl's state update): forced prompt token or sampled; tokens,
// state written by invocation 0.
fn token_advance(l: u32, pos: u32) {
  var next = sample_pick(l, p.V, p.temperature, p.top_p, p.seed, pos);
  if (l == 0u) {
    if (pos + 1u < p.prompt_len) { next = prompt[pos + 1u]; }
    tokens[pos + 1u] = next;
    state[0] = pos + 1u;
    state[1] = next;
    if ((p.stop_at_bos != 0u && next == 1u) || pos + 1u >= p.steps) { state[2] = 1u; }
  }
  sync();
}
