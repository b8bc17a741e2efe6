import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { initParams } from "../../src/model/init.ts";
import { encodeLlama2cV0 } from "../../src/io/llama2c.ts";
import { runMain } from "../helpers/cli.ts";

const stories = await sharedFile("stories260K.bin");
const tokenizerBin = await sharedFile("tokenizer.bin");

const runCli = (args: string[]) => runMain(["sample", ...args]);

/**
 * A llama2.c tokenizer.bin with 512 pieces `<tN>` (1 and 2 are BOS/EOS), so ids print; with
 * `control` false, pieces 0..2 are plain `<tN>` too (no `<unk>`, `\n<s>\n`, `\n</s>\n`).
 */
function idTokenizer(n: number, control = true): Uint8Array {
  const enc = new TextEncoder();
  const special = ["<unk>", "\n<s>\n", "\n</s>\n"];
  const toks = Array.from(
    { length: n },
    (_, i) => enc.encode(control && i < 3 ? special[i] : `<t${i}>`),
  );
  const out = new Uint8Array(4 + toks.reduce((a, t) => a + 8 + t.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 8, true);
  let at = 4;
  toks.forEach((t, i) => {
    dv.setFloat32(at, -i, true);
    dv.setInt32(at + 4, t.length, true);
    out.set(t, at + 8);
    at += 8 + t.length;
  });
  return out;
}

Deno.test({
  name: "sample --temperature 0 prints the PyTorch greedy continuation of stories260K",
  ignore: stories === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const tok = join(dir, "tok512.bin");
      await Deno.writeFile(tok, idTokenizer(512));
      const bytes = await Deno.readFile(join(REPO_ROOT, "tests/fixtures/stories260K_tokens.bin"));
      // sample 0 of the fixture: BOS, the most likely token, then greedy = greedy from BOS
      const want = Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, 128)).slice(1);
      for (const k of ["1", "16"]) {
        const r = await runCli([
          "--model",
          stories!,
          "--tokenizer",
          tok,
          "--temperature",
          "0",
          "--steps",
          "127",
          "--steps-per-submit",
          k,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const ids = [...r.stdout.matchAll(/<t(\d+)>/g)].map((m) => Number(m[1]));
        assert.deepEqual(ids, want);
        assert.match(r.stderr, /achieved tok\/s: \d+(\.\d+)?/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sample reads a tokenizer.bin without control pieces with run.c's BOS = 1, EOS = 2",
  ignore: stories === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const tok = join(dir, "plain512.bin");
      await Deno.writeFile(tok, idTokenizer(512, false));
      const bytes = await Deno.readFile(join(REPO_ROOT, "tests/fixtures/stories260K_tokens.bin"));
      const want = Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, 128)).slice(1);
      const r = await runCli([
        "--model",
        stories!,
        "--tokenizer",
        tok,
        "--temperature",
        "0",
        "--steps",
        "127",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const ids = [...r.stdout.matchAll(/<t(\d+)>/g)].map((m) => Number(m[1]));
      assert.deepEqual(ids, want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sample prints the prompt first (tokenizer.bin, random 32000-vocab model) and rejects bad flags",
  ignore: tokenizerBin === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const config = modelConfig({ dim: 16, n_layers: 1, n_heads: 2, max_seq_len: 32 });
      const model = join(dir, "m.bin");
      await Deno.writeFile(model, encodeLlama2cV0(config, initParams(tensorTable(config), 5)));
      const prompt = "Once upon a time, Lily";
      const r = await runCli([
        "--model",
        model,
        "--tokenizer",
        tokenizerBin!,
        "--prompt",
        prompt,
        "--steps",
        "20",
        "--seed",
        "7",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(prompt), JSON.stringify(r.stdout));
      assert.match(r.stderr, /achieved tok\/s: /);
      const again = await runCli([
        "--model",
        model,
        "--tokenizer",
        tokenizerBin!,
        "--prompt",
        prompt,
        "--steps",
        "20",
        "--seed",
        "7",
        "--steps-per-submit",
        "3",
      ]);
      assert.equal(again.stdout, r.stdout, "same seed, same text");
      const bad = await runCli([
        "--model",
        model,
        "--tokenizer",
        tokenizerBin!,
        "--temperature=-1",
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--temperature must be >= 0/);
      const missing = await runCli([
        "--model",
        join(dir, "nope.bin"),
        "--tokenizer",
        tokenizerBin!,
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^error: Cannot load model/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sample checks the tokenizer against the model's vocab: error for wrong ids, else a warning",
  ignore: stories === null || tokenizerBin === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const base = ["--model", stories!, "--temperature", "0", "--steps", "8"];
      // 32000 pieces for a 512-vocab model, no prompt: run.c would proceed, so a warning
      const warn = await runCli([...base, "--tokenizer", tokenizerBin!]);
      assert.equal(warn.code, 0, warn.stderr);
      assert.ok(
        warn.stderr.includes(
          `warning: the tokenizer ${tokenizerBin} has 32000 pieces but the model's vocab is 512`,
        ),
        warn.stderr,
      );
      // a prompt that encodes to ids the model does not have: error, one line
      const prompt = await runCli([...base, "--tokenizer", tokenizerBin!, "--prompt", "Once upon"]);
      assert.equal(prompt.code, 1, prompt.stderr);
      assert.match(
        prompt.stderr.trim(),
        /^error: Cannot sample: the prompt encodes to id \d+, outside the model's vocab of 512: the tokenizer .* \(32000 pieces\) is not the model's$/,
      );
      // fewer pieces than the vocab: the model can sample ids without a piece
      const small = join(dir, "tok100.bin");
      await Deno.writeFile(small, idTokenizer(100));
      const few = await runCli([...base, "--tokenizer", small]);
      assert.equal(few.code, 1, few.stderr);
      assert.match(
        few.stderr.trim(),
        /^error: Cannot sample: the tokenizer .* has 100 pieces but the model's vocab is 512/,
      );
      // the matching tokenizer: no warning
      const ok = join(dir, "tok512.bin");
      await Deno.writeFile(ok, idTokenizer(512));
      const good = await runCli([...base, "--tokenizer", ok]);
      assert.equal(good.code, 0, good.stderr);
      assert.doesNotMatch(good.stderr, /warning/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sample --decode-variant: the per-layer path prints stories260K's greedy text too; --verbose names the variant and dispatches per token; an unknown variant exits 2",
  ignore: stories === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const tok = join(dir, "tok512.bin");
      await Deno.writeFile(tok, idTokenizer(512));
      const bytes = await Deno.readFile(join(REPO_ROOT, "tests/fixtures/stories260K_tokens.bin"));
      const want = Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, 128)).slice(1, 41);
      const base = ["--model", stories!, "--tokenizer", tok, "--temperature", "0", "--steps", "40"];
      const r = await runCli([...base, "--decode-variant", "layered_wg8_split1", "--verbose"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([...r.stdout.matchAll(/<t(\d+)>/g)].map((m) => Number(m[1])), want);
      assert.match(r.stderr, /decode variant: layered_wg8_split1 \(candidates: [^)]*token/);
      // stories260K: 5 layers, 7 dispatches each (2 RMSNorms, qkv, attention, wo, ffn, w2) + 4
      assert.match(r.stderr, /dispatches per token: 39\b/);
      const d = await runCli([...base, "--verbose"]);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, /dispatches per token: 1\/128/); // the whole-step default
      const bad = await runCli([...base, "--decode-variant", "nope"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--decode-variant must be one of .*layered_wg8_split1/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
