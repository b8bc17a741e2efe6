// token_decode: whole decode steps of a small model in ONE workgroup: embedding, every layer
// (RMSNorm, q/k/v, RoPE and the KV cache write, attention over the cache, wo + residual, RMSNorm,
// w1/w3 + SwiGLU, w2 + residual), the final RMSNorm, the classifier and the sampler (kernels/
// _sample.wgsl, appended with _hash.wgsl by the launcher), for up to `tokens_per_dispatch`
// positions in a loop. The phases are kernels/_token_step.wgsl's with the matvec of
// kernels/_token_matvec.wgsl (both appended by the launcher),
// separated by barriers instead of dispatches (~40 us each on a CPU adapter); the state is read
// with workgroupUniformLoad so the step loop stays uniform.
// Bindings (all sizes in f32 unless said):
//   weights     read, as vec4: the decode layout of the parameters (src/model/decode_layout.ts),
//               matrices in tiles of Params.tile rows (4 * WG: the invocations' loads are
//               consecutive):
//               tok_embeddings [V, C] at `emb`; layer l's block at layer0 + l * layer_stride holds
//               rms_att [C], wqkv [C + 2 KV, C] (wq; wk; wv rows), wo [C, C], rms_ffn [C],
//               w13 [2 H, C] (rows w1[i], w3[i] interleaved), w2 [C, H] at the given offsets;
//               rms_final [C]; wcls [V, C] (= emb when tied). Offsets are in floats, multiples
//               of 4.
//   freqs       read: cos [S, HS/2] then sin [S, HS/2] at sin_offset (model.py's freqs_cis)
//   kv_cache    read_write, as vec4: keys [L, S, KV] at 0, values [L, S, KV] at value_offset;
//               row (l, pos) written with `=` each step, rows 0..pos read
//   state       read_write [4] u32: (pos, token, done, unused), as kernels/sample.wgsl
//   tokens      read_write [S + 1] u32: tokens[pos + 1] written with `=`
//   prompt      read [>= prompt_len] u32: forced tokens
//   logits      read_write [V]: the last step's logits, written with `=`
//   scratch     read_write, as vec4: x [C], xn [C], q [C], att [C], hg [H], probs [V], in that
//               order (written with `=`; x is the residual stream)
// Each phase computes model.py's formulas in f32:
//   xn = x * rsqrt(mean(x²) + eps) * w (rmsnorm_decode); y = W · xn by rows (4 rows per
//   invocation, one xn load feeding 4 rows); RoPE pair (y0, y1) -> (y0 cos - y1 sin,
//   y0 sin + y1 cos); silu(h) = h / (1 + exp(-h)).
//   Attention of head h over t = 0..pos: s_t = q_h · k_t / sqrt(HS), out_h = sum_t e^(s_t - m)
//   v_t / sum_t e^(s_t - m), m = max_t s_t. Invocation l < AL takes t = l, l + AL, ... for the G
//   heads sharing a KV head (one k and v load serves G heads) with a running max (when the max
//   rises from m to m', the sums so far are scaled by e^(m - m')); the AL partials (m, z, acc) are
//   then merged through workgroup memory: M = max m_l, out = sum acc_l e^(m_l - M) /
//   sum z_l e^(m_l - M).
// Only the head size and heads per KV head are override constants (their loops unroll into
// registers); every other size is a Params field: unrolled, the matvec loops would overflow the
// CPU's instruction cache (measured 2x slower on llvmpipe).
// Requires C % 4 == 0, H % 4 == 0, C = NKV * G * HS, HS % 4 == 0, G * HS <= 64,
// AL * G * (HS + 2) <= 3072, WG a power of two (the launcher checks).
struct Params {
  C: u32,
  H: u32,
  V: u32,
  NKV: u32,
  S: u32,
  L: u32,
  eps: f32,
  emb: u32,
  layer0: u32,
  layer_stride: u32,
  tile: u32,
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
@group(0) @binding(3) var<storage, read_write> kv_cache: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(6) var<storage, read> prompt: array<u32>;
@group(0) @binding(7) var<storage, read_write> logits: array<f32>;
@group(0) @binding(8) var<storage, read_write> scratch: array<vec4f>;

// Invocations in the workgroup (a power of two, at most 256).
override WG: u32 = 8;
// Invocations that run the attention loop over t (at most WG).
override AL: u32 = 8;
// Head size (a multiple of 4) and query heads per KV head.
override HS: u32;
override G: u32;

// Vec4 i of the decode-layout weights (_token_step.wgsl).
fn wload(i: u32) -> vec4f { return weights[i]; }

fn sync() {
  storageBarrier();
  workgroupBarrier();
}

var<workgroup> wg_state: vec3u;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  for (var step = 0u; step < p.tokens_per_dispatch; step++) {
    if (l == 0u) { wg_state = vec3u(state[0], state[1], state[2]); }
    let st = workgroupUniformLoad(&wg_state);
    if (st.z != 0u) { break; }
    token_forward(l, st.x, st.y);
    token_advance(l, st.x);
  }
}
