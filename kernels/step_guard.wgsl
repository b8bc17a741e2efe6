// step_guard: decides whether an optimizer step is applied, and counts the steps it refused, so
// the trainer learns about them from one small status read at its log steps (no readback per
// step). A step is bad when the global gradient norm or the loss of its last micro-batch is NaN
// or +-infinity, tested on the bit pattern (exponent bits all ones), which no float
// optimisation can fold away.
//   gnorm  [2] f32, read_write: [norm, clip coefficient] from global_norm_final; on a bad step
//          gnorm[1] = -1 (written with `=`), which adamw_update reads as "leave params, m, v"
//   loss   [1] f32: mean loss of the step's last micro-batch
//   status Status (12 words), read_write, updated in place:
//          steps += 1, loss = loss, norm = gnorm[0];
//          bad step: bad += 1, run += 1, last = steps, and on the first bad step
//                    first = steps, first_loss = loss, first_norm = gnorm[0];
//          good step: run = 0
//          (steps, first and last count from 1 since the buffer was zeroed)
// One invocation.
struct Status {
  steps: u32,
  bad: u32,
  run: u32,
  first: u32,
  last: u32,
  loss: f32,
  norm: f32,
  first_loss: f32,
  first_norm: f32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> gnorm: array<f32>;
@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> status: Status;

fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(1)
fn main() {
  let n = gnorm[0];
  let l = loss[0];
  let steps = status.steps + 1u;
  status.steps = steps;
  status.loss = l;
  status.norm = n;
  if (is_finite(n) && is_finite(l)) {
    status.run = 0u;
    return;
  }
  gnorm[1] = -1.0;
  status.bad = status.bad + 1u;
  status.run = status.run + 1u;
  status.last = steps;
  if (status.first == 0u) {
    status.first = steps;
    status.first_loss = l;
    status.first_norm = n;
  }
}
