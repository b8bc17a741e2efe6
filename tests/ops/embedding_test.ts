import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  embeddingBackward,
  embeddingForward,
  embeddingIndex,
  embeddingIndexLength,
} from "../../src/ops/embedding.ts";
import * as ref from "../../src/reference/embedding.ts";
import {
  assertClose,
  f32,
  finiteDiff,
  randn,
  read,
  runPlan,
  testGpu,
  testPool,
} from "../helpers/gpu.ts";

/** Tokens with many repeats (a small vocabulary range) from a seed. */
function _tokens(N: number, V: number, seed: number): number[] {
  return Array.from(randn(N, seed), (u) => Math.min(V - 1, Math.floor(((u + 1) / 2) * V)));
}

Deno.test("reference embedding backward matches finite differences (N=6, C=3, V=4)", () => {
  const N = 6, C = 3, V = 4;
  const tokens = [3, 1, 3, 0, 3, 1], weight = randn(V * C, 1), g = randn(N * C, 2);
  const loss = () =>
    ref.embeddingForward(tokens, weight, N, C).reduce((s, v, i) => s + v * g[i], 0);
  const want = ref.embeddingBackward(tokens, g, N, C, V);
  assertClose("fd dweight", Array.from(weight, (_, i) => finiteDiff(loss, weight, i)), want, {
    atol: 1e-7,
    rtol: 1e-6,
  });
});

Deno.test("embeddingIndex groups positions by token in increasing order", () => {
  assertEquals(embeddingIndexLength(3), 11);
  assertEquals(
    Array.from(embeddingIndex([5, 2, 5])),
    [2, 2, 5, 0, 0, 1, 3, 0, 1, 0, 2],
  );
  const tokens = _tokens(500, 37, 3);
  const out = new Uint32Array(embeddingIndexLength(500)).fill(7);
  const index = embeddingIndex(tokens, out);
  assertEquals(index, out);
  const U = index[0];
  const uniq = [...new Set(tokens)].sort((a, b) => a - b);
  assertEquals(Array.from(index.subarray(1, 1 + U)), uniq);
  for (let u = 0; u < U; u++) {
    const s: number = index[1 + 500 + u], e: number = index[2 + 500 + u];
    const want = tokens.flatMap((t, n) => (t === uniq[u] ? [n] : []));
    assertEquals(Array.from(index.subarray(2 + 1000 + s, 2 + 1000 + e)), want);
  }
  assertThrows(() => embeddingIndex([1, 2], new Uint32Array(5)), TypeError);
  assertThrows(() => embeddingIndex([1, -1]), RangeError);
  assertThrows(() => embeddingIndex([1.5]), RangeError);
});

const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 288, 50], [37, 45, 11], [
  300,
  7,
  1000,
]];

Deno.test("embeddingForward matches reference (N=1, odd C)", async () => {
  const gpu = await testGpu();
  for (const [N, C, V] of SHAPES) {
    using pool = testPool(gpu);
    const tokens = _tokens(N, V, 4), weight = randn(V * C, 5);
    const out = pool.create("out", N * C * 4);
    await runPlan(gpu, (plan) =>
      embeddingForward(plan, {
        out,
        tokens: pool.upload("tokens", Uint32Array.from(tokens)),
        weight: f32(pool, "w", weight),
      }, { N, C }));
    assertClose(
      `forward N=${N} C=${C} V=${V}`,
      await read(gpu, out, N * C),
      ref.embeddingForward(tokens, weight, N, C),
      { atol: 0, rtol: 0 },
    );
  }
});

Deno.test("embeddingBackward adds the reference gradient (repeated tokens, odd C)", async () => {
  const gpu = await testGpu();
  for (const [N, C, V] of SHAPES) {
    using pool = testPool(gpu);
    const tokens = _tokens(N, V, 6), dout = randn(N * C, 7), prev = randn(V * C, 8);
    const dweight = f32(pool, "dweight", prev);
    const index = pool.upload("index", embeddingIndex(tokens) as Uint32Array<ArrayBuffer>);
    await runPlan(
      gpu,
      (plan) =>
        embeddingBackward(plan, { dweight, dout: f32(pool, "dout", dout), index }, { N, C }),
    );
    const want = ref.embeddingBackward(tokens, dout, N, C, V).map((v, i) => v + prev[i]);
    assertClose(`backward N=${N} C=${C} V=${V}`, await read(gpu, dweight, V * C), want, {
      atol: 1e-6 * Math.sqrt(N),
      rtol: 1e-5,
    });
  }
});
