/**
 * loadModel and the commands built on it refuse a model holding NaN or infinite weights, in one
 * line naming the tensor, instead of sampling garbage ids or printing a null loss.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/io/model_file.ts";
import { encodeLlama2cV0 } from "../../src/io/llama2c.ts";
import { modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { runMain } from "../helpers/cli.ts";

const config = modelConfig({ dim: 16, n_layers: 2, n_heads: 2, vocab_size: 32, max_seq_len: 8 });

async function writeModel(dir: string, name: string, poison?: [string, number, number]) {
  const table = tensorTable(config);
  const params = initParams(table, 3);
  if (poison) {
    const [tensor, layer, value] = poison;
    const e = table.byName.get(tensor as "wq")!;
    params[e.offset + layer * e.layerStride + 9] = value;
  }
  const path = join(dir, name);
  await Deno.writeFile(path, encodeLlama2cV0(config, params));
  return path;
}

Deno.test("loadModel names the tensor holding NaN or infinity", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = await writeModel(dir, "good.bin");
    assert.equal((await loadModel(good)).config.dim, 16);
    const nan = await writeModel(dir, "nan.bin", ["w2", 1, NaN]);
    await assert.rejects(
      loadModel(nan),
      new RegExp(
        `^RangeError: Cannot load model ${nan}: tensor layers\\.1\\.w2 holds NaN at element 9`,
      ),
    );
    const inf = await writeModel(dir, "inf.bin", ["tok_embeddings", 0, -Infinity]);
    await assert.rejects(loadModel(inf), /tensor tok_embeddings holds -Infinity at element 9/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sample, eval and export refuse a model with NaN weights in one line, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const nan = await writeModel(dir, "nan.bin", ["wq", 0, NaN]);
    const tok = join(dir, "tok.bin"), tokens = join(dir, "t.bin");
    await Deno.writeFile(
      tokens,
      new Uint8Array(new Uint16Array([1, 5, 7, 9, 11, 3, 4, 5, 6, 7]).buffer),
    );
    await Deno.writeFile(tok, new Uint8Array(4)); // never read: the model fails first
    const cases = [
      ["sample", "--model", nan, "--tokenizer", tok, "--prompt", "x"],
      ["eval", "--model", nan, "--tokens", tokens, "--seq-len", "4"],
      ["export", "--checkpoint", nan, "--out", join(dir, "out.bin")],
    ];
    for (const args of cases) {
      const r = await runMain(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout} ${r.stderr}`);
      assert.equal(
        r.stderr.trim(),
        `error: Cannot load model ${nan}: tensor layers.0.wq holds NaN at element 9 (the run that wrote it diverged)`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
