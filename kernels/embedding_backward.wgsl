// embedding_backward: gradient of embedding_forward with respect to the embedding table,
// accumulated, deterministic (no atomics: WGSL has no float atomics).
//   dweight [V, C] f32, written with `+=`: dweight[v, :] += sum over n with tokens[n] == v of dout[n, :]
//   dout    [N, C] f32
//   index   [3N + 2] u32, the CSR index the CPU builds from the tokens (embeddingIndex):
//     index[0]                     U, the number of unique tokens
//     index[1 .. 1 + N)            the unique tokens, ascending (first U used)
//     index[1 + N .. 2 + 2N)       offsets into positions (first U + 1 used)
//     index[2 + 2N .. 2 + 3N)      the positions n of each unique token, increasing
// Derivation: out[n, c] = weight[tokens[n], c], so dL/dweight[v, c] = sum_{n: tokens[n] = v} dout[n, c].
// Each (unique token, 4-column chunk) belongs to one invocation that sums its positions in
// increasing order: one writer per output, a fixed summation order. The dispatch covers the worst
// case (N unique tokens); invocations past U exit.
struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> index: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let chunks = (p.C + 3u) / 4u;
  let u = g / chunks;
  if (u >= index[0]) { return; }
  let c = (g - u * chunks) * 4u;
  let token = index[1u + u];
  let start = index[1u + p.N + u];
  let end = index[2u + p.N + u];
  let posBase = 2u + 2u * p.N;
  let m = min(4u, p.C - c);
  var s = vec4f(0.0);
  for (var j = start; j < end; j++) {
    let row = index[posBase + j] * p.C + c;
    for (var e = 0u; e < m; e++) { s[e] += dout[row + e]; }
  }
  let w = token * p.C + c;
  for (var e = 0u; e < m; e++) { dweight[w + e] = dweight[w + e] + s[e]; }
}
