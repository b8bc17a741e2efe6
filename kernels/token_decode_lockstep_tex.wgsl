// token_decode_lockstep_tex: token_decode_lockstep (see kernels/token_decode.wgsl for the
// Params, formulas and phases, from kernels/_token_step.wgsl) with the weights read from a
// read-only storage texture instead of a storage buffer: every matvec row, the norm weights and
// the embedding row come from `weightsT` through textureLoad (kernels/_token_matvec_tex.wgsl).
// On llvmpipe a storage-buffer load with a non-constant offset is a per-lane loop with bounds
// checks (~300 instructions per vec4 across 8 lanes, docs/matmul-cpu.md), where an image load of
// a `texture_storage_2d` is one call of ~57 instructions that fetches all 8 lanes' texels (a
// `texture_2d` textureLoad costs ~150: its fetch handles a mip level per lane), and the weights
// are nearly all of a decode step's loads. Like token_decode_lockstep it has no barrier and runs
// only where the workgroup is ONE SIMD vector (llvmpipe, WG = 8 at 256 bits); the input vectors
// of the matvecs are shared with subgroupBroadcast (device feature `subgroups`, subgroups of at
// least 8).
// Bindings: as token_decode, except
//   weightsT    texture_storage_2d<rgba32float, read> (4096 texels wide): texel t at
//               (t % 4096, t / 4096) holds floats 4t .. 4t + 3 of the decode layout
//               (src/model/decode_layout.ts, matrices in tiles of Params.tile = 4 * WG rows,
//               offsets multiples of 16 floats); written once when the generator is built.
// The sums are formed in the same order as token_decode_lockstep's: the same logits, bit for bit.
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
@group(0) @binding(1) var weightsT: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read> freqs: array<f32>;
@group(0) @binding(3) var<storage, read_write> kv_cache: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(6) var<storage, read> prompt: array<u32>;
@group(0) @binding(7) var<storage, read_write> logits: array<f32>;
@group(0) @binding(8) var<storage, read_write> scratch: array<vec4f>;

// Invocations in the workgroup (the adapter's SIMD width, a multiple of 8).
override WG: u32 = 8;
// Invocations that run the attention loop over t (at most WG).
override AL: u32 = 8;
// Head size (a multiple of 4) and query heads per KV head.
override HS: u32;
override G: u32;

// Vec4 i of the decode-layout weights (_token_step.wgsl).
fn wload(i: u32) -> vec4f { return texel_at(i & 4095u, i >> 12u); }
// Texel (x, y) of the weights (also _token_matvec_tex.wgsl).
fn texel_at(x: u32, y: u32) -> vec4f { return textureLoad(weightsT, vec2u(x, y)); }

// This invocation's index in its subgroup (_token_matvec_tex.wgsl).
var<private> sg_lane: u32;

fn sync() {}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) sl: u32,
) {
  let l = lid.x;
  sg_lane = sl;
  for (var step = 0u; step < p.tokens_per_dispatch; step++) {
    let st = vec3u(state[0], state[1], state[2]);
    if (st.z != 0u) { break; }
    token_forward(l, st.x, st.y);
    token_advance(l, st.x);
  }
}
