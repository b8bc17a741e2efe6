import assert from "node:assert/strict";
import {
  attentionDecode,
  decodeTextureUnfit,
  decodeWeightsTexture,
  embeddingDecode,
  ffnDecode,
  lockstepWidth,
  matvecDecode,
  type MatvecShape,
  qkvDecode,
  rmsnormDecode,
  ropeDecode,
  sample,
  type SampleParams,
  tokenAttentionLanes,
  tokenDecode,
  type TokenDecodeParams,
  tokenScratchFloats,
} from "../../src/ops/decode.ts";
import { headSize, kvDim, modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import {
  decodeLayout,
  packDecodeParams,
  tokenLayoutParams,
} from "../../src/model/decode_layout.ts";
import * as ref from "../../src/reference/decode.ts";
import { ropeFreqs } from "../../src/model/rope_freqs.ts";
import { readBuffer, writeBuffer } from "../../src/gpu/buffers.ts";
import { assertClose, f32, randn, read, runPlan, testGpu, testPool } from "../helpers/gpu.ts";
import { swigluForward } from "../../src/ops/swiglu.ts";
import * as refSwiglu from "../../src/reference/swiglu.ts";

Deno.test("embeddingDecode reads the row of state.token; rmsnormDecode and swigluForward (used at decode) match reference for C=288", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const V = 37, C = 288;
  const w = randn(V * C, 1), g = randn(C, 2), h1 = randn(C, 3, 4), h3 = randn(C, 4);
  const state = pool.upload("state", Uint32Array.from([3, 29, 0, 0]));
  const emb = pool.create("emb", C * 4), xn = pool.create("xn", C * 4);
  const hg = pool.create("hg", C * 4);
  await runPlan(gpu, (plan) => {
    embeddingDecode(plan, { out: emb, state, weight: f32(pool, "w", w) }, { C });
    rmsnormDecode(plan, { out: xn, inp: emb, weight: f32(pool, "g", g) }, { C, eps: 1e-5 });
    swigluForward(plan, { out: hg, h1: f32(pool, "h1", h1), h3: f32(pool, "h3", h3) }, { N: C });
  });
  const e = ref.embeddingDecode(w, 29, C);
  assertClose("embedding", await read(gpu, emb, C), e, { atol: 0, rtol: 0 });
  assertClose("rmsnorm", await read(gpu, xn, C), ref.rmsnormDecode(e, g, 1e-5), {
    atol: 1e-6,
    rtol: 1e-5,
  });
  assertClose("swiglu", await read(gpu, hg, C), refSwiglu.swigluForward(h1, h3), {
    atol: 1e-6,
    rtol: 1e-5,
  });
});

Deno.test("matvecDecode matches reference for C=288 OC=771, both shapes, = and +=", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const C = 288, OC = 771;
  const w = randn(OC * C, 5), x = randn(C, 6), y0 = randn(OC, 7);
  const want = new Float64Array(OC);
  for (let o = 0; o < OC; o++) {
    let s = 0;
    for (let k = 0; k < C; k++) s += w[o * C + k] * x[k];
    want[o] = s;
  }
  for (const shape of [{ WG: 8, SPLIT: 1 }, { WG: 64, SPLIT: 16 }, { WG: 32, SPLIT: 32 }]) {
    const out = f32(pool, "out", new Float64Array(OC)), acc = f32(pool, "acc", y0);
    const W = f32(pool, "w", w), X = f32(pool, "x", x);
    await runPlan(gpu, (plan) => {
      matvecDecode(plan, { out, inp: X, weight: W }, { C, OC }, shape);
      matvecDecode(plan, { out: acc, inp: X, weight: W }, { C, OC, accumulate: true }, shape);
    });
    const tag = `WG=${shape.WG} SPLIT=${shape.SPLIT}`;
    assertClose(`matvec ${tag}`, await read(gpu, out, OC), want, { atol: 1e-5, rtol: 1e-4 });
    assertClose(
      `matvec += ${tag}`,
      await read(gpu, acc, OC),
      want.map((v, i) => v + y0[i]),
      { atol: 1e-5, rtol: 1e-4 },
    );
  }
});

Deno.test("ropeDecode rotates q and writes row (layer, pos) of the caches only; nothing once done", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const NH = 6, NKV = 2, HS = 16, S = 20, L = 3, layer = 1, pos = 13, KV = NKV * HS;
  const { cos, sin } = ropeFreqs(HS, S);
  const q0 = randn(NH * HS, 8), k0 = randn(KV, 9), v0 = randn(KV, 10);
  const cache0 = randn(L * S * KV, 11);
  for (const done of [0, 1]) {
    const q = f32(pool, "q", q0), kc = f32(pool, "kc", cache0), vc = f32(pool, "vc", cache0);
    const state = pool.upload("state", Uint32Array.from([pos, 0, done, 0]));
    await runPlan(gpu, (plan) =>
      ropeDecode(plan, {
        q,
        k: f32(pool, "k", k0),
        v: f32(pool, "v", v0),
        key_cache: kc,
        value_cache: vc,
        state,
        freqs_cos: pool.upload("cos", cos),
        freqs_sin: pool.upload("sin", sin),
      }, { NH, NKV, HS, S, layer }));
    const row = (layer * S + pos) * KV;
    const wantK = Float64Array.from(cache0), wantV = Float64Array.from(cache0);
    if (!done) {
      wantK.set(ref.ropeDecode(k0, pos, HS, cos, sin), row);
      wantV.set(v0, row);
    }
    const wantQ = done ? q0 : ref.ropeDecode(q0, pos, HS, cos, sin);
    assertClose(`rope q done=${done}`, await read(gpu, q, NH * HS), wantQ, {
      atol: 1e-6,
      rtol: 1e-6,
    });
    assertClose(`rope key_cache done=${done}`, await read(gpu, kc, L * S * KV), wantK, {
      atol: 1e-6,
      rtol: 1e-6,
    });
    assertClose(`rope value_cache done=${done}`, await read(gpu, vc, L * S * KV), wantV, {
      atol: 0,
      rtol: 0,
    });
  }
});

Deno.test("attentionDecode matches reference (GQA) for HS=8, HS=128 and pos 0, 37", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  for (const [NH, NKV, HS] of [[8, 4, 8], [4, 2, 128], [6, 6, 48]]) {
    const S = 64, L = 2, layer = 1, KV = NKV * HS;
    const cache = randn(L * S * KV, 12, 2), values = randn(L * S * KV, 13);
    const q = randn(NH * HS, 14, 2);
    for (const pos of [0, 37]) {
      const out = pool.create("out", NH * HS * 4);
      await runPlan(gpu, (plan) =>
        attentionDecode(plan, {
          out,
          q: f32(pool, "q", q),
          key_cache: f32(pool, "kc", cache),
          value_cache: f32(pool, "vc", values),
          att: pool.create("att", NH * S * 4),
          state: pool.upload("state", Uint32Array.from([pos, 0, 0, 0])),
        }, { NH, NKV, HS, S, layer }));
      const base = layer * S * KV;
      const want = ref.attentionDecode(
        q,
        cache.subarray(base, base + S * KV),
        values.subarray(base, base + S * KV),
        pos + 1,
        NH,
        NKV,
        HS,
      );
      assertClose(
        `attention NH=${NH} NKV=${NKV} HS=${HS} pos=${pos}`,
        await read(gpu, out, NH * HS),
        want,
        {
          atol: 1e-5,
          rtol: 1e-4,
        },
      );
    }
  }
});

/** Runs `n` sample steps on fixed logits; returns tokens[1..n] and the final state. */
async function runSampler(
  logits: ArrayLike<number>,
  p: Omit<SampleParams, "V">,
  n: number,
  prompt: number[] = [0],
): Promise<{ tokens: number[]; state: number[] }> {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const V = logits.length;
  const state = pool.upload("state", Uint32Array.from([0, prompt[0], 0, 0]));
  const tokens = pool.create("tokens", (n + 2) * 4);
  writeBuffer(gpu, tokens, new Uint32Array(n + 2).fill(0xffffffff));
  const b = {
    state,
    tokens,
    logits: f32(pool, "logits", logits),
    prompt: pool.upload("prompt", Uint32Array.from(prompt)),
    probs: pool.create("probs", V * 4),
  };
  await runPlan(gpu, (plan) => {
    for (let i = 0; i < n; i++) sample(plan, b, { V, ...p });
  });
  const t = new Uint32Array(await readBuffer(gpu, tokens, 0, (n + 2) * 4));
  const s = new Uint32Array(await readBuffer(gpu, state, 0, 16));
  return { tokens: Array.from(t.subarray(1, n + 1)), state: Array.from(s) };
}

const BASE = { temperature: 0, top_p: 0, seed: 0, prompt_len: 0, steps: 1 << 30, stop_at_bos: 0 };

Deno.test("sample: temperature 0 is argmax with the lowest index on ties (V=32000)", async () => {
  const V = 32000, logits = randn(V, 15);
  logits[31999] = logits[20001] = logits[7777] = 3;
  const { tokens, state } = await runSampler(logits, BASE, 3);
  assert.deepEqual(tokens, [7777, 7777, 7777]);
  assert.deepEqual(state.slice(0, 3), [3, 7777, 0]);
});

Deno.test("sample: forced prompt tokens, steps limit and BOS stop set done and freeze the state", async () => {
  const logits = [0, 0, 5, 0]; // argmax 2
  const forced = await runSampler(logits, { ...BASE, prompt_len: 4, steps: 6 }, 8, [1, 3, 0, 1]);
  assert.deepEqual(forced.tokens, [3, 0, 1, 2, 2, 2, 0xffffffff, 0xffffffff]);
  assert.deepEqual(forced.state.slice(0, 3), [6, 2, 1]);
  const bos = await runSampler(logits, { ...BASE, prompt_len: 4, stop_at_bos: 1 }, 8, [1, 3, 0, 1]);
  assert.deepEqual(bos.tokens, [3, 0, 1, ...new Array(5).fill(0xffffffff)]);
  assert.deepEqual(bos.state.slice(0, 3), [3, 1, 1]);
});

Deno.test("sample: each draw equals run.c's rule in f64 with the same coin (top-p and multinomial)", async () => {
  const V = 50, n = 400;
  const logits = randn(V, 16, 3);
  for (const [temperature, top_p] of [[1, 0.9], [0.7, 0.5], [1.3, 0], [1, 1]]) {
    const seed = 1234 + Math.round(temperature * 10);
    const { tokens } = await runSampler(logits, { ...BASE, temperature, top_p, seed }, n);
    let mismatches = 0;
    const keptSet = ref.sample(logits, temperature, top_p, 0).kept;
    for (let pos = 0; pos < n; pos++) {
      const want = ref.sample(logits, temperature, top_p, ref.sampleCoin(seed, pos));
      assert(keptSet.includes(tokens[pos]), `token ${tokens[pos]} outside the top-p set`);
      if (want.token !== tokens[pos]) mismatches++;
    }
    console.log(
      `  T=${temperature} top_p=${top_p}: kept ${keptSet.length}/${V}, mismatches ${mismatches}/${n}`,
    );
    assert.deepEqual(mismatches, 0);
  }
});

Deno.test("sample: top_p keeps exactly the smallest set with mass > top_p", async () => {
  // probabilities 0.4 0.3 0.2 0.1 (shuffled): top_p 0.65 keeps {0.4, 0.3}; 0.75 adds 0.2.
  const p = [0.1, 0.3, 0.2, 0.4];
  const logits = p.map(Math.log);
  for (
    const [top_p, kept] of [[0.35, [3]], [0.65, [1, 3]], [0.75, [1, 2, 3]], [0.95, [
      0,
      1,
      2,
      3,
    ]]] as const
  ) {
    assert.deepEqual(ref.sample(logits, 1, top_p, 0).kept, kept);
    const { tokens } = await runSampler(logits, { ...BASE, temperature: 1, top_p, seed: 7 }, 300);
    assert.deepEqual([...new Set(tokens)].sort(), [...kept], `top_p ${top_p}`);
  }
});

Deno.test("sample: the sampled distribution over 4000 coins passes a chi-square test (V=8)", async () => {
  const logits = [0.5, -1, 2, 0, 1.2, -0.3, 0.8, 1.5];
  for (const [temperature, top_p] of [[1, 0], [0.8, 0.8]]) {
    const n = 4000;
    const { tokens } = await runSampler(logits, { ...BASE, temperature, top_p, seed: 99 }, n);
    const want = ref.sample(logits, temperature, top_p, 0);
    const counts = new Map<number, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    let chi2 = 0;
    want.kept.forEach((t, i) => {
      const e = n * want.probs[i];
      chi2 += (((counts.get(t) ?? 0) - e) ** 2) / e;
    });
    const outside = tokens.filter((t) => !want.kept.includes(t)).length;
    // 99.9% quantile of chi-square with df = kept - 1 <= 7 is 24.3
    console.log(
      `  T=${temperature} top_p=${top_p}: kept ${want.kept.length}, chi2 ${chi2.toFixed(2)}`,
    );
    assert.deepEqual(outside, 0);
    assert(chi2 < 24.3, `chi2 ${chi2} too large`);
  }
});

/** A [rows, cols] row-major matrix in tiles of T rows (src/model/decode_layout.ts's layout). */
function tiled(m: ArrayLike<number>, rows: number, cols: number, T: number): Float64Array {
  const out = new Float64Array(Math.ceil(rows / T) * T * cols);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols / 4; k++) {
      for (let c = 0; c < 4; c++) {
        out[((Math.floor(r / T) * (cols / 4) + k) * T + (r % T)) * 4 + c] = m[r * cols + 4 * k + c];
      }
    }
  }
  return out;
}

/** f64 `W · x` for a row-major [rows, cols] W. */
function matvec(w: ArrayLike<number>, x: ArrayLike<number>, rows: number): Float64Array {
  const cols = x.length, out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += w[r * cols + k] * x[k];
    out[r] = s;
  }
  return out;
}

const SHAPES = [{ WG: 8, SPLIT: 1 }, { WG: 64, SPLIT: 16 }];

Deno.test("matvecDecode: tiled weights (tiles of 8 and 32 rows), the fused RMSNorm and subgroup sums (where granted) match reference for C=36 OC=77", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const C = 36, OC = 77, eps = 1e-5;
  const w = randn(OC * C, 21), x = randn(C, 22, 2), g = randn(C, 23), y0 = randn(OC, 24);
  const xn = ref.rmsnormDecode(x, g, eps);
  const shapes: MatvecShape[] = [...SHAPES];
  if (gpu.subgroups) {
    shapes.push({ WG: 64, SPLIT: 64, subgroup: true }, { WG: 8, SPLIT: 8, subgroup: true });
  }
  for (const shape of shapes) {
    for (const tile of [0, 8, 32]) {
      const W = f32(pool, "w", tile ? tiled(w, OC, C, tile) : w), X = f32(pool, "x", x);
      const out = f32(pool, "out", new Float64Array(OC)), acc = f32(pool, "acc", y0);
      await runPlan(gpu, (plan) => {
        matvecDecode(plan, { out, inp: X, weight: W }, { C, OC, tile }, shape);
        matvecDecode(plan, { out: acc, inp: X, weight: W, norm_weight: f32(pool, "g", g) }, {
          C,
          OC,
          tile,
          accumulate: true,
          norm: { eps },
        }, shape);
      });
      const tag = `WG=${shape.WG} SPLIT=${shape.SPLIT} sg=${shape.subgroup ?? false} tile=${tile}`;
      assertClose(`matvec ${tag}`, await read(gpu, out, OC), matvec(w, x, OC), {
        atol: 1e-5,
        rtol: 1e-4,
      });
      const want = matvec(w, xn, OC).map((v, i) => v + y0[i]);
      assertClose(`matvec norm += ${tag}`, await read(gpu, acc, OC), want, {
        atol: 1e-5,
        rtol: 1e-4,
      });
    }
  }
});

Deno.test("qkvDecode matches reference for GQA 1/2/4 (C=24, HS=6), T=1 and the last position, norm fused or not, tiled or not; nothing once done", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const NH = 4, HS = 6, S = 9, L = 2, layer = 1, C = NH * HS, eps = 1e-5;
  const { cos, sin } = ropeFreqs(HS, S);
  const half = (S * HS) / 2, sinOffset = Math.ceil(half / 64) * 64;
  const freqs = new Float64Array(sinOffset + half);
  freqs.set(cos);
  freqs.set(sin, sinOffset);
  const x = randn(C, 31, 2), g = randn(C, 32);
  const xn = ref.rmsnormDecode(x, g, eps);
  for (const NKV of [4, 2, 1]) {
    const KV = NKV * HS, rows = C + 2 * KV;
    const w = randn(rows * C, 33 + NKV);
    const y = matvec(w, xn, rows);
    const cache0 = randn(L * S * KV, 40 + NKV);
    for (const pos of [0, S - 1]) {
      for (
        const [shape, tile, fused, done] of [
          [SHAPES[0], 32, false, 0],
          [SHAPES[0], 0, true, 0],
          [SHAPES[1], 0, true, 0],
          [SHAPES[1], 8, false, 1],
        ] as const
      ) {
        const q = f32(pool, "q", new Float64Array(C));
        const kc = f32(pool, "kc", cache0), vc = f32(pool, "vc", cache0);
        await runPlan(gpu, (plan) =>
          qkvDecode(plan, {
            q,
            key_cache: kc,
            value_cache: vc,
            inp: f32(pool, "x", fused ? x : xn),
            norm_weight: fused ? f32(pool, "g", g) : undefined,
            weight: f32(pool, "w", tile ? tiled(w, rows, C, tile) : w),
            state: pool.upload("state", Uint32Array.from([pos, 0, done, 0])),
            freqs: f32(pool, "freqs", freqs),
          }, {
            NH,
            NKV,
            HS,
            S,
            layer,
            sin_offset: sinOffset,
            tile,
            norm: fused ? { eps } : undefined,
          }, shape));
        const tag = `NKV=${NKV} pos=${pos} WG=${shape.WG} tile=${tile} fused=${fused} done=${done}`;
        const row = (layer * S + pos) * KV;
        const wantK = Float64Array.from(cache0), wantV = Float64Array.from(cache0);
        let wantQ: Float64Array = new Float64Array(C);
        if (!done) {
          wantQ = ref.ropeDecode(y.subarray(0, C), pos, HS, cos, sin);
          wantK.set(ref.ropeDecode(y.subarray(C, C + KV), pos, HS, cos, sin), row);
          wantV.set(y.subarray(C + KV), row);
        }
        const tol = { atol: 1e-5, rtol: 1e-4 };
        assertClose(`q ${tag}`, await read(gpu, q, C), wantQ, tol);
        assertClose(`key_cache ${tag}`, await read(gpu, kc, L * S * KV), wantK, tol);
        assertClose(`value_cache ${tag}`, await read(gpu, vc, L * S * KV), wantV, tol);
      }
    }
  }
});

Deno.test("ffnDecode matches silu(w1 · xn) * (w3 · xn) for interleaved w1/w3 rows, C=36 H=14, norm fused or not, tiled or not", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const C = 36, H = 14, eps = 1e-5;
  const w1 = randn(H * C, 51), w3 = randn(H * C, 52), x = randn(C, 53, 2), g = randn(C, 54);
  const w13 = new Float64Array(2 * H * C);
  for (let i = 0; i < H; i++) {
    w13.set(w1.subarray(i * C, (i + 1) * C), 2 * i * C);
    w13.set(w3.subarray(i * C, (i + 1) * C), (2 * i + 1) * C);
  }
  const xn = ref.rmsnormDecode(x, g, eps);
  const want = refSwiglu.swigluForward(matvec(w1, xn, H), matvec(w3, xn, H));
  for (
    const [shape, tile, fused] of [[SHAPES[0], 32, false], [SHAPES[0], 0, true], [
      SHAPES[1],
      8,
      true,
    ]] as const
  ) {
    const out = f32(pool, "out", new Float64Array(H));
    await runPlan(gpu, (plan) =>
      ffnDecode(
        plan,
        {
          out,
          inp: f32(pool, "x", fused ? x : xn),
          norm_weight: fused ? f32(pool, "g", g) : undefined,
          weight: f32(pool, "w13", tile ? tiled(w13, 2 * H, C, tile) : w13),
        },
        { C, H, tile, norm: fused ? { eps } : undefined },
        shape,
      ));
    assertClose(`ffn WG=${shape.WG} tile=${tile} fused=${fused}`, await read(gpu, out, H), want, {
      atol: 1e-5,
      rtol: 1e-4,
    });
  }
});

Deno.test("embeddingDecode reads the row of state.token from a tiled table (tiles of 32 rows, V=37, C=12)", async () => {
  const gpu = await testGpu();
  using pool = testPool(gpu);
  const V = 37, C = 12;
  const w = randn(V * C, 61);
  for (const token of [0, 31, 32, 36]) {
    const out = pool.create("out", C * 4);
    await runPlan(gpu, (plan) =>
      embeddingDecode(plan, {
        out,
        state: pool.upload("state", Uint32Array.from([0, token, 0, 0])),
        weight: f32(pool, "w", tiled(w, V, C, 32)),
      }, { C, tile: 32 }));
    assertClose(`token ${token}`, await read(gpu, out, C), ref.embeddingDecode(w, token, C), {
      atol: 0,
      rtol: 0,
    });
  }
});

Deno.test("tokenDecode lockstep: weights from a storage buffer and from a texture give the same tokens and bit-identical logits, equal to the f64 forward (C=64, H=172, GQA 2, V=77); texture weights need lockstep", async () => {
  const gpu = await testGpu();
  const WG = lockstepWidth(gpu);
  const config = modelConfig({
    dim: 64,
    n_layers: 2,
    n_heads: 8,
    n_kv_heads: 4,
    hidden_dim: 172,
    vocab_size: 77,
    max_seq_len: 11,
    shared_classifier: false,
  });
  const C = config.dim, H = config.hidden_dim, V = config.vocab_size, L = config.n_layers;
  const S = config.max_seq_len, KV = kvDim(config), HS = headSize(config);
  const heads = { NH: config.n_heads, NKV: config.n_kv_heads, HS };
  const tile = 4 * WG, lay = decodeLayout(config, tile);
  if (WG === 0 || tokenAttentionLanes(heads, WG) === 0 || decodeTextureUnfit(gpu, lay.size, WG)) {
    console.log("  skipped: the adapter has no lockstep workgroups or no subgroups of 8");
    return;
  }
  using pool = testPool(gpu);
  const table = tensorTable(config), params = initParams(table, 17);
  for (let i = 0; i < params.length; i++) params[i] *= 8;
  const packed = packDecodeParams(config, table, params, tile);
  const rope = ropeFreqs(HS, S), sinOffset = Math.ceil(rope.cos.length / 64) * 64;
  const freqData = new Float32Array(sinOffset + rope.sin.length);
  freqData.set(rope.cos);
  freqData.set(rope.sin, sinOffset);
  const valueOffset = Math.ceil((L * S * KV) / 64) * 64;
  const prompt = [1, 40, 3];
  const p: TokenDecodeParams = {
    V,
    temperature: 0,
    top_p: 0,
    seed: 0,
    prompt_len: prompt.length,
    steps: S,
    stop_at_bos: 0,
    C,
    H,
    L,
    ...heads,
    S,
    eps: config.norm_eps,
    ...tokenLayoutParams(lay, tile),
    sin_offset: sinOffset,
    value_offset: valueOffset,
    tokens_per_dispatch: S,
  };
  using texture = {
    t: decodeWeightsTexture(gpu, packed),
    [Symbol.dispose]() {
      this.t.destroy();
    },
  };
  const run = async (weights: GPUBuffer | GPUTextureView) => {
    const b = {
      weights,
      freqs: pool.upload("freqs", freqData),
      kv_cache: pool.create("kv_cache", 2 * valueOffset * 4),
      state: pool.upload("state", Uint32Array.from([0, prompt[0], 0, 0])),
      tokens: pool.create("tokens", (S + 1) * 4),
      prompt: pool.upload("prompt", Uint32Array.from(prompt)),
      logits: pool.create("logits", V * 4),
      scratch: pool.create("scratch", tokenScratchFloats({ C, H, V }) * 4),
    };
    await runPlan(gpu, (plan) => tokenDecode(plan, b, p, WG, true));
    const tokens = new Uint32Array(await readBuffer(gpu, b.tokens, 0, (S + 1) * 4));
    return { tokens: Array.from(tokens.subarray(1)), logits: await read(gpu, b.logits, V) };
  };
  const buf = await run(pool.upload("weights", packed));
  const tex = await run(texture.t.createView());
  assert.deepEqual(tex.tokens, buf.tokens);
  assert.deepEqual(tex.logits, buf.logits, "bit-identical logits");
  assert.deepEqual(buf.tokens.slice(0, 2), prompt.slice(1));
  // the f64 forward over the same tokens: greedy from position 2 on, logits of the last position
  const refDec = new ref.ReferenceDecoder(config, params, rope);
  let logits: ArrayLike<number> = [];
  for (let pos = 0; pos < S; pos++) {
    logits = refDec.step(pos === 0 ? prompt[0] : buf.tokens[pos - 1]);
    if (pos >= 2) {
      const best = Array.from(logits).indexOf(Math.max(...Array.from(logits)));
      assert.equal(buf.tokens[pos], best, `argmax at position ${pos}`);
    }
  }
  assertClose("logits at the last position", tex.logits, logits, { atol: 1e-4, rtol: 1e-4 });
  // a texture binding is only read by the lockstep form
  await assert.rejects(
    () =>
      runPlan(gpu, (plan) =>
        tokenDecode(
          plan,
          {
            weights: texture.t.createView(),
            freqs: pool.upload("f", freqData),
            kv_cache: pool.create("kv", 2 * valueOffset * 4),
            state: pool.create("st", 16),
            tokens: pool.create("tk", (S + 1) * 4),
            prompt: pool.create("pr", 16),
            logits: pool.create("lg", V * 4),
            scratch: pool.create("sc", tokenScratchFloats({ C, H, V }) * 4),
          },
          p,
          WG,
          false,
        )),
    /Cannot record token_decode_lockstep_tex: texture weights need lockstep/,
  );
});
