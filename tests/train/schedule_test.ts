import assert from "node:assert/strict";
import { modelConfig } from "../../src/model/config.ts";
import { estimateMfu, flopsPerToken, getLr } from "../../src/train/schedule.ts";

const S = { learning_rate: 5e-4, warmup_iters: 1000, max_iters: 100000, decay_lr: true };
const close = (a: number, b: number) => assert(Math.abs(a - b) <= 1e-15, `${a} != ${b}`);

Deno.test("getLr warms up linearly from 0 as train.py's lr * it / warmup_iters", () => {
  assert.deepEqual(getLr(0, S), 0);
  close(getLr(1, S), 5e-7);
  close(getLr(500, S), 2.5e-4);
  close(getLr(999, S), 4.995e-4);
});

Deno.test("getLr follows the cosine from warmup_iters to max_iters, then min_lr 0", () => {
  close(getLr(1000, S), 5e-4); // cos(0) = 1
  close(getLr(34000, S), 3.75e-4); // ratio 1/3: 0.5 * (1 + 1/2)
  close(getLr(50500, S), 2.5e-4); // ratio 1/2: 0.5 * (1 + 0)
  close(getLr(67000, S), 1.25e-4); // ratio 2/3: 0.5 * (1 - 1/2)
  close(getLr(100000, S), 0); // ratio 1: 0.5 * (1 - 1)
  assert.deepEqual(getLr(100001, S), 0);
  assert.deepEqual(getLr(10 ** 7, S), 0);
  for (let it = 1000; it < 100000; it += 997) assert(getLr(it + 1, S) <= getLr(it, S));
});

Deno.test("getLr is constant without decay, and handles warmup covering every step", () => {
  for (const it of [0, 1, 999, 1000, 5e4, 1e5, 2e5]) {
    assert.deepEqual(getLr(it, { ...S, decay_lr: false }), 5e-4);
  }
  const w = { ...S, warmup_iters: 10, max_iters: 10 };
  close(getLr(5, w), 2.5e-4);
  assert.deepEqual(getLr(10, w), 5e-4);
  assert.deepEqual(getLr(11, w), 0);
  assert.deepEqual(getLr(0, { ...S, warmup_iters: 0 }), 5e-4);
  assert.throws(() => getLr(-1, S), RangeError);
  assert.throws(() => getLr(0.5, S), RangeError);
});

Deno.test("estimateMfu uses llama2.c's 6N + 12LHQT FLOPs per token", () => {
  const cfg = modelConfig(); // 288/6/6/32000, T 256
  // N by hand: 32000*288 + 6*(2*288 + 4*288*288 + 3*288*768) + 288 = 15191712
  const N = 32000 * 288 + 6 * (2 * 288 + 4 * 288 * 288 + 3 * 288 * 768) + 288;
  assert.deepEqual(N, 15191712);
  const perToken = 6 * N + 12 * 6 * 6 * 48 * 256;
  assert.deepEqual(flopsPerToken(cfg), perToken);
  // train.py: estimate_mfu(batch_size * grad_accum, dt) with flops_per_fwdbwd = per_token * T
  const fwdbwd = 128 * 4, dt = 2.5;
  const want = (perToken * 256 * fwdbwd) / dt / 312e12;
  const got = estimateMfu(cfg, fwdbwd * 256, dt, 312e12);
  assert.ok(Math.abs(got - want) <= 1e-15 * want, `${got} != ${want}`);
  assert.throws(() => estimateMfu(cfg, 1, 0, 1e12), RangeError);
  const gqa = modelConfig({ dim: 64, n_layers: 2, n_heads: 4, n_kv_heads: 2, vocab_size: 512 });
  // N: 512*64 + 2*(2*64 + 2*64*64 + 2*32*64 + 3*64*192) + 64 (KV width 32)
  const Ng = 512 * 64 + 2 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 192) + 64;
  assert.deepEqual(flopsPerToken(gqa), 6 * Ng + 12 * 2 * 4 * 16 * 256);
});
