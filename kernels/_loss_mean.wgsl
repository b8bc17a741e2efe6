// _loss_mean: snippet (not a kernel) appended by src/ops/crossentropy.ts to crossentropy_backward
// and crossentropy_backward_vec4, whose one extra workgroup (when p.M > 0) writes the mean loss
// as the last chunk's backward runs, instead of a loss_mean dispatch:
//   loss[0] = sum_{i < M} losses[i] * scale[0]
// with loss_mean's bits at its 64 lanes: 64 strided partial sums (i = k, k + 64, ... in order),
// then the same tree (red[l] += red[l + s] for s = 32, 16, ..., 1), all in one lane (M is the
// batch's rows: a few thousand adds). The kernel declares `p` (Params with M), `loss` (f32
// read_write), `losses` and `scale` (f32 read).

const MEAN_LANES: u32 = 64u; // loss_mean's workgroup size (MEAN_WG in crossentropy.ts)

fn lossMeanInOneLane() {
  var red: array<f32, MEAN_LANES>;
  for (var k = 0u; k < MEAN_LANES; k++) {
    var sum = 0.0;
    for (var i = k; i < p.M; i += MEAN_LANES) { sum += losses[i]; }
    red[k] = sum;
  }
  for (var s = MEAN_LANES / 2u; s > 0u; s >>= 1u) {
    for (var l = 0u; l < s; l++) { red[l] += red[l + s]; }
  }
  loss[0] = red[0] * scale[0];
}
