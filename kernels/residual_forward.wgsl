// residual_forward: out = inp1 + inp2, elementwise.
//   out  [N] f32, written with `=`
//   inp1 [N] f32
//   inp2 [N] f32
// The backward of a residual add is the identity for both inputs: the model keeps one residual
// gradient buffer that the blocks' backward kernels add into (`+=`), so it needs no kernel.
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp1: array<f32>;
@group(0) @binding(3) var<storage, read> inp2: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N) { return; }
  out[i] = inp1[i] + inp2[i];
}
