// matmul_backward_dweight_reduce: second pass of the split-K matmul_backward_dweight_tiled, adding
// its S partial sums into the gradient in order of s (deterministic).
//   dweight [M] f32 (M = OC * C), read and written as vec4 [M/4] with `+=`
//   partial [S, M] f32, read as vec4 [S, M/4]
// dweight[i] += ((partial[0, i] + partial[1, i]) + ...) + partial[S - 1, i].
// One invocation per vec4; workgroups numbered linearly (x + y * num_workgroups.x, see grid()).
struct Params { M4: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<vec4f>;
@group(0) @binding(2) var<storage, read> partial: array<vec4f>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.M4) { return; }
  var acc = partial[i];
  for (var s = 1u; s < p.S; s++) { acc += partial[s * p.M4 + i]; }
  dweight[i] = dweight[i] + acc;
}
