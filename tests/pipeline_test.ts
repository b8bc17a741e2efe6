/**
 * The whole pipeline through the CLI, as a user runs it: a served TinyStories-shaped tarball of
 * real sample stories -> download -> pretokenize (Llama 2 vocab) -> train -> sample; and
 * train-vocab -> pretokenize --vocab-size -> train --vocab-source custom -> export v0 -> eval.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzip, makeTar, prng, serveBytes, tinyStoriesExample } from "./helpers/tarball.ts";
import { runMain } from "./helpers/cli.ts";
import { sharedFile } from "./helpers/data.ts";

const sampleText = await sharedFile("tinystories_valid_sample.txt");
const tokenizerModel = await sharedFile("tokenizer.model");

const TINY = [
  "--dim=64",
  "--n-layers=2",
  "--n-heads=4",
  "--n-kv-heads=2",
  "--batch-size=4",
  "--max-seq-len=64",
];
const SHORT = [
  "--gradient-accumulation-steps=1",
  "--eval-iters=2",
  "--warmup-iters=2",
  "--eval-interval=3",
  "--max-iters=3",
];

async function ok(args: string[]): Promise<string> {
  const r = await runMain(args);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

Deno.test({
  name:
    "pipeline: download -> pretokenize -> train -> sample, and a custom vocab through export and eval",
  ignore: sampleText === null || tokenizerModel === null,
  fn: async () => {
    const stories = (await Deno.readTextFile(sampleText!)).split("<|endoftext|>").map((s) =>
      s.trim()
    ).filter((s) => s);
    const rand = prng(3);
    const shard = (xs: string[]) =>
      new TextEncoder().encode(JSON.stringify(xs.map((s) => tinyStoriesExample(rand, s))));
    const tgz = await gzip(makeTar([
      { name: "data00.json", data: shard(stories.slice(0, 40)) },
      { name: "data01.json", data: shard(stories.slice(40)) },
    ]));
    await using srv = serveBytes(tgz);
    const dir = await Deno.makeTempDir({ prefix: "babyllama_pipeline_" });
    try {
      await ok(["download", "--url", srv.url, "--data-dir", dir]);
      await ok(["pretokenize", "--data-dir", dir, "--tokenizer", tokenizerModel!]);
      const bin = await Deno.readFile(join(dir, "TinyStories_all_data", "data00.bin"));
      assert.equal(new Uint16Array(bin.buffer, 0, 1)[0], 1, "shards start with BOS");

      const out = join(dir, "out");
      const log = await ok([
        "train",
        ...TINY,
        ...SHORT,
        "--always-save-checkpoint",
        `--data-dir=${dir}`,
        `--out-dir=${out}`,
      ]);
      assert.match(log, /^3 \| loss /m);
      const text = await ok([
        "sample",
        "--model",
        out,
        "--tokenizer",
        tokenizerModel!,
        "--prompt",
        "Once upon a time",
        "--temperature",
        "0",
        "--steps",
        "24",
      ]);
      assert.ok(text.startsWith("Once upon a time"), text);

      await ok(["train-vocab", "--vocab-size", "512", "--data-dir", dir]);
      await ok(["pretokenize", "--data-dir", dir, "--vocab-size", "512"]);
      const out2 = join(dir, "out512");
      await ok([
        "train",
        ...TINY,
        ...SHORT,
        "--always-save-checkpoint",
        "--vocab-source=custom",
        "--vocab-size=512",
        `--data-dir=${dir}`,
        `--out-dir=${out2}`,
      ]);
      const exported = join(dir, "m512.bin");
      await ok(["export", "--checkpoint", out2, "--format", "v0", "--out", exported]);
      const evalOut = await ok([
        "eval",
        "--model",
        exported,
        "--tokens",
        join(dir, "tok512", "data00.bin"),
        "--seq-len",
        "64",
      ]);
      const res = JSON.parse(evalOut.trim().split("\n").at(-1)!);
      console.log(
        `  custom vocab 512: eval loss ${res.loss.toFixed(4)} over ${res.windows} windows`,
      );
      assert.ok(res.loss > 0 && res.loss < Math.log(512) + 0.5, `eval loss ${res.loss}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
