// embedding_forward: token embedding lookup.
//   out    [N, C] f32, written with `=`: out[n, c] = weight[tokens[n], c]
//   tokens [N]    u32 (each < V; the caller validates token ids)
//   weight [V, C] f32
// One invocation per output element.
struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i - n * p.C;
  out[i] = weight[tokens[n] * p.C + c];
}
