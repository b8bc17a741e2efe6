/**
 * `eval` on stories260K.bin (a real llama2.c checkpoint) against the PyTorch reference's loss on
 * the token file tools/make_model_fixtures.py made, through the library and through the CLI.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { evaluateTokens, tokensFromBytes } from "../../src/model/evaluate.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { readSafetensorsFile } from "../../src/io/safetensors.ts";
import { sharedFile } from "../helpers/data.ts";
import { testGpu } from "../helpers/gpu.ts";
import { runMain } from "../helpers/cli.ts";

const FIX = (name: string) => fromFileUrl(new URL(`../fixtures/${name}`, import.meta.url));
const stories = await sharedFile("stories260K.bin");

async function wantLoss(S: number): Promise<number> {
  const f = await readSafetensorsFile(FIX("stories260K_eval.safetensors"));
  const t = f.tensors.get(`eval_loss_S${S}`)!;
  return new DataView(t.data.buffer, t.data.byteOffset).getFloat64(0, true);
}

Deno.test({
  name: "eval of stories260K.bin matches PyTorch's loss to 1e-5 for S=64 and S=127",
  ignore: stories === null,
  fn: async () => {
    const gpu = await testGpu();
    const ckpt = await readLlama2cFile(stories!);
    const tokens = tokensFromBytes(await Deno.readFile(FIX("stories260K_tokens.bin")));
    for (const [S, B] of [[64, 3], [127, 8]]) {
      const res = await evaluateTokens(
        gpu,
        ckpt.config,
        ckpt.params as Float32Array<ArrayBuffer>,
        tokens,
        S,
        B,
      );
      const want = await wantLoss(S);
      const rel = Math.abs(res.loss - want) / want;
      console.log(
        `  S=${S} B=${B}: loss ${res.loss} vs torch ${want} (rel ${
          rel.toExponential(2)
        }), ${res.windows} windows`,
      );
      assert.equal(res.windows, Math.floor((tokens.length - 1) / S));
      assert.equal(res.tokens, res.windows * S);
      assert.ok(rel < 1e-5);
    }
  },
});

const cli = (...args: string[]) => runMain(args);

Deno.test({
  name: "eval CLI prints the JSON contract and rejects bad input with one line",
  ignore: stories === null,
  fn: async () => {
    const tokens = FIX("stories260K_tokens.bin");
    const ok = await cli("eval", "--model", stories!, "--tokens", tokens, "--seq-len", "64");
    assert.equal(ok.code, 0, ok.stderr);
    const last = JSON.parse(ok.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(Object.keys(last), ["loss", "windows", "tokens"]);
    assert.ok(Math.abs(last.loss - await wantLoss(64)) / last.loss < 1e-5);

    const dir = await Deno.makeTempDir();
    try {
      const empty = `${dir}/empty.bin`, big = `${dir}/big.bin`;
      await Deno.writeFile(empty, new Uint8Array(0));
      await Deno.writeFile(big, new Uint8Array(new Uint16Array([1, 600, 3, 4, 5]).buffer));
      for (
        const [args, what] of [
          [["--tokens", empty, "--seq-len", "4"], "empty"],
          [["--tokens", big, "--seq-len", "2"], "vocab"],
          [["--tokens", tokens, "--seq-len", "513"], "seq_len"],
        ] as const
      ) {
        const r = await cli("eval", "--model", stories!, ...args);
        assert.equal(r.code, 1, `${what}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
        assert.match(r.stderr, /^error: /);
      }
      const usage = await cli("eval", "--model", stories!, "--bogus");
      assert.equal(usage.code, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
