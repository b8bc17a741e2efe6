// global_norm_partial: first pass of the global gradient norm: partial sums of squares.
//   partials[w] = sum_{i in chunk w} grads[i]^2,  chunk w = [w * CHUNK, (w + 1) * CHUNK) ∩ [0, N)
//   partials [ceil(N / CHUNK)] f32, written with `=`   (CHUNK = WG * PER)
//   grads    [N] f32
// Each lane sums PER strided elements of its workgroup's chunk; the lanes combine through
// workgroup memory (WG a power of two). No atomics: global_norm_final adds the partials.
struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;

override WG: u32 = 8;
override PER: u32 = 512;
const MAX_WG: u32 = 256u;
var<workgroup> red: array<f32, MAX_WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  let start = w * WG * PER;
  if (start >= p.N) { return; }
  let end = min(p.N, start + WG * PER);
  var s = 0.0;
  for (var i = start + lid; i < end; i += WG) {
    let g = grads[i];
    s += g * g;
  }
  red[lid] = s;
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (lid < k) { red[lid] += red[lid + k]; }
  }
  if (lid == 0u) { partials[w] = red[0]; }
}
