// _crossentropy_row: snippet (not a kernel) appended by src/ops/crossentropy.ts to
// crossentropy_forward and crossentropy_forward_vec4: what one row writes, whichever way its
// log-sum-exp was reduced. The kernel supplies `p` (Params with V), `losses` and `lse`.

// An ignored row (target < 0): loss 0 and lse 0, written by lane 0.
fn ignoreRow(r: u32, lid: u32) {
  if (lid == 0u) {
    losses[r] = 0.0;
    lse[r] = 0.0;
  }
}

// Row r's results from its log-sum-exp l and the logit x of its target t:
// lse = l, loss = l - x; a target >= V gives a NaN loss, so the mistake shows.
fn writeRow(r: u32, l: f32, x: f32, t: u32) {
  lse[r] = l;
  losses[r] = select(l - x, bitcast<f32>(0x7fc00000u), t >= p.V);
}
