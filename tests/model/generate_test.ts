import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeVariant, decodeVariants, Generator } from "../../src/model/generate.ts";
import { decodeTextureUnfit, lockstepWidth } from "../../src/ops/decode.ts";
import { decodeLayout } from "../../src/model/decode_layout.ts";
import { headSize, modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { ropeFreqs } from "../../src/model/rope_freqs.ts";
import { readF32 } from "../../src/gpu/buffers.ts";
import { ReferenceDecoder, sample, sampleCoin } from "../../src/reference/decode.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { assertClose, testGpu } from "../helpers/gpu.ts";

const stories = await sharedFile("stories260K.bin");

async function collect(it: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const id of it) out.push(id);
  return out;
}

Deno.test({
  name: "greedy decoding of stories260K reproduces the PyTorch samples token for token",
  ignore: stories === null,
  async fn() {
    const gpu = await testGpu();
    const { config, params } = await readLlama2cFile(stories!);
    const bytes = await Deno.readFile(join(REPO_ROOT, "tests/fixtures/stories260K_tokens.bin"));
    const fixture = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    // 4 samples of 128: BOS, a forced second token, then greedy (tools/make_model_fixtures.py)
    for (const [K, pipelined] of [[16, true], [5, false]] as const) {
      using gen = new Generator(gpu, config, params, { stepsPerSubmit: K, pipelined });
      await gen.check();
      for (let s = 0; s < 4; s++) {
        const want = Array.from(fixture.subarray(s * 128, s * 128 + 128));
        const got = await collect(
          gen.generate({ prompt: want.slice(0, 2), temperature: 0, steps: 127, stopAtBos: false }),
        );
        assert.deepEqual([1, ...got], want, `sample ${s} K=${K}`);
        assert.equal(gen.submits, Math.ceil(127 / K)); // no batch past `steps`
      }
    }
  },
});

Deno.test({
  name: "GPU decode logits match an f64 forward at every position (stories260K, 40 positions)",
  ignore: stories === null,
  async fn() {
    const gpu = await testGpu();
    const { config, params } = await readLlama2cFile(stories!);
    const bytes = await Deno.readFile(join(REPO_ROOT, "tests/fixtures/stories260K_tokens.bin"));
    const prompt = Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, 40));
    using gen = new Generator(gpu, config, params, { stepsPerSubmit: 1, pipelined: false });
    const refDec = new ReferenceDecoder(config, params, ropeFreqs(headSize(config), 512));
    let pos = 0;
    for await (const id of gen.generate({ prompt, temperature: 0, steps: 40 })) {
      const want = refDec.step(prompt[pos]);
      assertClose(`logits pos ${pos}`, await readF32(gpu, gen.logits), want, {
        atol: 2e-4,
        rtol: 1e-4,
      });
      pos++;
      if (pos < prompt.length) assert.equal(id, prompt[pos]);
    }
    assert.equal(pos, 40);
  },
});

Deno.test("unshared classifier, GQA: logits and top-p samples match the f64 forward with the same coins", async () => {
  const gpu = await testGpu();
  const config = modelConfig({
    dim: 48,
    n_layers: 2,
    n_heads: 6,
    n_kv_heads: 2,
    vocab_size: 96,
    max_seq_len: 24,
    shared_classifier: false,
  });
  const params = initParams(tensorTable(config), 11);
  // larger weights so the logits are not nearly uniform
  for (let i = 0; i < params.length; i++) params[i] *= 8;
  using gen = new Generator(gpu, config, params, { stepsPerSubmit: 1, pipelined: false });
  const refDec = new ReferenceDecoder(config, params, ropeFreqs(headSize(config), 24));
  const seed = 4242, prompt = [1, 17, 5];
  const out: number[] = [];
  let tok = prompt[0];
  for await (
    const id of gen.generate({ prompt, temperature: 0.9, topP: 0.8, seed, stopAtBos: false })
  ) {
    const pos = out.length;
    const logits = refDec.step(tok);
    assertClose(`logits pos ${pos}`, await readF32(gpu, gen.logits), logits, {
      atol: 1e-4,
      rtol: 1e-4,
    });
    const want = pos + 1 < prompt.length
      ? prompt[pos + 1]
      : sample(logits, 0.9, 0.8, sampleCoin(seed, pos)).token;
    assert.equal(id, want, `token at position ${pos + 1}`);
    out.push(id);
    tok = id;
  }
  assert.equal(out.length, 24); // steps default to max_seq_len: positions 1..24 (as run.c)
  assert.ok(new Set(out).size > 5, "samples vary");
});

Deno.test("generation stops at steps, at BOS, and validates its inputs", async () => {
  const gpu = await testGpu();
  const config = modelConfig({ dim: 32, n_layers: 1, n_heads: 4, vocab_size: 64, max_seq_len: 40 });
  using gen = new Generator(gpu, config, initParams(tensorTable(config), 3), { stepsPerSubmit: 4 });
  // forced prompt containing BOS: run.c stops there without printing it
  assert.deepEqual(await collect(gen.generate({ prompt: [1, 9, 8, 1, 7], temperature: 0 })), [
    9,
    8,
  ]);
  const ten = await collect(
    gen.generate({ prompt: [1, 9], temperature: 0, steps: 10, stopAtBos: false }),
  );
  assert.equal(ten.length, 10); // run.c prints `steps` tokens
  assert.equal(ten[0], 9);
  const all = await collect(
    gen.generate({ prompt: [1], temperature: 0, steps: 1000, stopAtBos: false }),
  );
  assert.equal(all.length, 40);
  // the same request twice gives the same tokens (the state is reset)
  const again = await collect(
    gen.generate({ prompt: [1, 9], temperature: 0, steps: 10, stopAtBos: false }),
  );
  assert.deepEqual(again, ten);
  // an early break leaves the generator usable
  for await (const _ of gen.generate({ prompt: [1], temperature: 1, steps: 30, seed: 5 })) break;
  assert.equal(
    (await collect(gen.generate({ prompt: [1, 9], temperature: 0, steps: 10, stopAtBos: false })))
      .length,
    10,
  );
  await assert.rejects(() => collect(gen.generate({ prompt: [] })), RangeError);
  await assert.rejects(() => collect(gen.generate({ prompt: [1, 64] })), RangeError);
  await assert.rejects(() => collect(gen.generate({ prompt: [1], temperature: -1 })), RangeError);
  assert.throws(() => new Generator(gpu, config, new Float32Array(5)), TypeError);
});

/** Logits at every position of a prompt forced to the end of the cache, against the f64 forward. */
async function checkVariant(
  gpu: Awaited<ReturnType<typeof testGpu>>,
  config: ReturnType<typeof modelConfig>,
  params: Float32Array,
  variant: string,
): Promise<void> {
  using gen = new Generator(gpu, config, params, { variant, stepsPerSubmit: 1, pipelined: false });
  const S = config.max_seq_len;
  const refDec = new ReferenceDecoder(config, params, ropeFreqs(headSize(config), S));
  const prompt = Array.from({ length: S }, (_, i) => (i * 7 + 1) % config.vocab_size);
  let pos = 0;
  for await (const id of gen.generate({ prompt, temperature: 0, stopAtBos: false })) {
    const want = refDec.step(prompt[pos]);
    const got = (await readF32(gpu, gen.logits)).subarray(0, config.vocab_size);
    assertClose(`${variant} logits pos ${pos}`, got, want, {
      atol: 1e-4,
      rtol: 1e-4,
    });
    pos++;
    if (pos < S) assert.equal(id, prompt[pos]);
  }
  assert.equal(pos, S, `${variant} ran every position up to max_seq_len`);
}

Deno.test("every decode variant matches the f64 forward at every position from T=1 to max_seq_len (dim 24, GQA 2, vocab 37, unshared classifier)", async () => {
  const gpu = await testGpu();
  const config = modelConfig({
    dim: 24,
    n_layers: 2,
    n_heads: 6,
    n_kv_heads: 3,
    vocab_size: 37,
    hidden_dim: 36,
    max_seq_len: 9,
    shared_classifier: false,
  });
  const params = initParams(tensorTable(config), 5);
  for (let i = 0; i < params.length; i++) params[i] *= 8;
  const variants = decodeVariants(gpu, config).map((v) => v.name);
  console.log(`  variants: ${variants.join(", ")}`);
  for (const k of ["unfused", "layered", "token"]) {
    assert.ok(variants.some((v) => v.startsWith(k)), `a ${k} variant`);
  }
  for (const v of variants) await checkVariant(gpu, config, params, v);
});

Deno.test("the default CPU variant, the per-layer paths and a whole-step kernel with barriers match the f64 forward for GQA 4 (HS 12) and GQA 1 (HS 8)", async () => {
  const gpu = await testGpu();
  for (
    const c of [
      { dim: 48, n_heads: 4, n_kv_heads: 1, hidden_dim: 20, vocab_size: 50, max_seq_len: 7 },
      { dim: 40, n_heads: 5, n_kv_heads: 5, hidden_dim: 28, vocab_size: 33, max_seq_len: 6 },
    ]
  ) {
    const config = modelConfig({ ...c, n_layers: 1 });
    const params = initParams(tensorTable(config), 9);
    for (let i = 0; i < params.length; i++) params[i] *= 8;
    const names = new Set([
      decodeVariant(gpu, config).name,
      "layered_wg8_split1",
      "layered_wg64_split16",
      "token_wg64",
    ]);
    for (const v of names) await checkVariant(gpu, config, params, v);
  }
});

Deno.test("decodeVariant: on llvmpipe the barrier-free whole-step kernel (weights in a texture where subgroups allow) up to 32M parameters, then the per-layer path; an unknown variant is a RangeError", async () => {
  const gpu = await testGpu();
  const small = modelConfig({ dim: 64, n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512 });
  const m15 = modelConfig(); // 288/6/6/32000
  const m110 = modelConfig({ dim: 768, n_layers: 12, n_heads: 12, max_seq_len: 1024 });
  if (lockstepWidth(gpu) > 0) {
    // the texture form where the device has subgroups of 8 (lavapipe does)
    const kind = decodeTextureUnfit(gpu, decodeLayout(m15, 32).size, lockstepWidth(gpu)) === null
      ? "token_lockstep_tex"
      : "token_lockstep";
    assert.equal(decodeVariant(gpu, small).kind, kind);
    assert.equal(decodeVariant(gpu, m15).kind, kind);
    assert.ok(decodeVariants(gpu, m15).some((v) => v.kind === "token_lockstep"));
  }
  assert.equal(decodeVariant(gpu, m110).kind, "layered"); // 110M: the weights exceed one binding
  assert.ok(!decodeVariants(gpu, m110).some((v) => v.kind.startsWith("token")));
  const config = modelConfig({ dim: 16, n_layers: 1, n_heads: 2, vocab_size: 32, max_seq_len: 4 });
  assert.throws(
    () => new Generator(gpu, config, initParams(tensorTable(config), 1), { variant: "nope" }),
    RangeError,
  );
});
