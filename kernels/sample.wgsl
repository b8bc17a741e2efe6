// sample: picks the next token from one decode step's logits, on the GPU, and advances the
// decode state (one workgroup). The choice is run.c's sampler, in kernels/_sample.wgsl (appended
// with kernels/_hash.wgsl by the launcher): argmax at temperature 0, else top-p or multinomial
// with the coin (bitsAt(seed, pos) >> 8) / 2^24.
// Bindings:
//   state  [4] u32 read_write: (pos, token, done, unused). Unless done: next = prompt[pos + 1]
//          while pos + 1 < prompt_len (forced), else the sampled token; tokens[pos + 1] = next;
//          done = 1 when next == 1 (BOS) and stop_at_bos != 0, or pos + 1 >= steps; then
//          pos += 1, token = next. Once done nothing changes.
//   tokens [S + 1] u32 read_write: tokens[pos + 1] written with `=`
//   logits [V] f32
//   prompt [>= prompt_len] u32
//   probs  [V] f32 scratch, written with `=` (e_i)
struct Params {
  V: u32,
  temperature: f32,
  top_p: f32,
  seed: u32,
  prompt_len: u32,
  steps: u32,
  stop_at_bos: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> prompt: array<u32>;
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;

const WG = 64u;

fn smp_logit(i: u32) -> f32 { return logits[i]; }
fn smp_prob(i: u32) -> f32 { return probs[i]; }
fn smp_set_prob(i: u32, v: f32) { probs[i] = v; }
fn smp_sync() {
  storageBarrier();
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  var next = sample_pick(l, p.V, p.temperature, p.top_p, p.seed, state[0]);
  if (l == 0u && state[2] == 0u) {
    let pos = state[0];
    if (pos + 1u < p.prompt_len) { next = prompt[pos + 1u]; }
    tokens[pos + 1u] = next;
    state[0] = pos + 1u;
    state[1] = next;
    if ((p.stop_at_bos != 0u && next == 1u) || pos + 1u >= p.steps) { state[2] = 1u; }
  }
}
