// embedding_decode: the current token's embedding row, for one decode step.
//   out    [C] f32, written with `=`
//   state  [4] u32 decode state (pos, token, done, unused); reads state[1], the token
//   weight [V, C] f32 tok_embeddings: row-major when Params.tile == 0, else in tiles of `tile` rows
//          (src/model/decode_layout.ts: element (r, 4k + c) at ((r / T * C/4 + k) * T + r % T) * 4
//          + c; then C % 4 == 0)
// out[c] = weight[state.token, c]. The token lives on the GPU (written by the `sample` kernel of
// the previous step), so one recorded plan serves every step.
struct Params { C: u32, tile: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let r = state[1];
  let T = p.tile;
  if (T == 0u) {
    out[c] = weight[r * p.C + c];
  } else {
    out[c] = weight[((r / T * (p.C / 4u) + c / 4u) * T + r % T) * 4u + c % 4u];
  }
}
