// token_decode_lockstep: token_decode (see kernels/token_decode.wgsl: the same bindings, Params,
// formulas and phases, from kernels/_token_step.wgsl) without any barrier, for a CPU adapter that
// runs a workgroup of its SIMD width as ONE vector: llvmpipe/lavapipe with WG = 8 at 256 bits.
// There every instruction executes for all invocations before the next, so a value one
// invocation stores is seen by every later load of the others, and barriers only cost: on
// llvmpipe a kernel with any barrier becomes a coroutine whose per-lane loads go through memory
// (measured 2x slower). The launcher records it only on such an adapter; anywhere else its
// invocations would race.
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

fn sync() {}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  for (var step = 0u; step < p.tokens_per_dispatch; step++) {
    let st = vec3u(state[0], state[1], state[2]);
    if (st.z != 0u) { break; }
    token_forward(l, st.x, st.y);
    token_advance(l, st.x);
  }
}
