/**
 * `eval` against token files made with another tokenizer: ids beyond the model's vocab are an
 * error that says so; a file from pretokenize's folder of another vocab gets a warning.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sharedFile } from "../helpers/data.ts";
import { runMain } from "../helpers/cli.ts";
import { tokensFolderVocabWarning } from "../../src/cli/eval.ts";

const stories = await sharedFile("stories260K.bin");

Deno.test("tokensFolderVocabWarning reads pretokenize's folder names", () => {
  assert.equal(tokensFolderVocabWarning("data/tok512/data00.bin", 512), null);
  assert.equal(tokensFolderVocabWarning("data/TinyStories_all_data/data00.bin", 32000), null);
  assert.equal(tokensFolderVocabWarning("elsewhere/t.bin", 512), null);
  assert.match(tokensFolderVocabWarning("data/tok4096/data00.bin", 512)!, /4096-piece vocab/);
  assert.match(
    tokensFolderVocabWarning("data/TinyStories_all_data/data00.bin", 512)!,
    /32000-piece vocab, but the model's vocab is 512/,
  );
});

Deno.test({
  name: "eval: tokens of another tokenizer are an error (ids too large) or a warning (folder)",
  ignore: stories === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(join(dir, "tok4096"));
      const ids = Uint16Array.from({ length: 200 }, (_, i) => (i * 37) % 500);
      const folder = join(dir, "tok4096", "data00.bin");
      await Deno.writeFile(folder, new Uint8Array(ids.buffer));
      const r = await runMain(["eval", "--model", stories!, "--tokens", folder, "--seq-len", "32"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /^warning: .*tok4096\/data00\.bin is in tok4096\/.* the model's vocab is 512/m,
      );
      const big = join(dir, "big.bin");
      ids[50] = 9038;
      await Deno.writeFile(big, new Uint8Array(ids.buffer));
      const e = await runMain(["eval", "--model", stories!, "--tokens", big, "--seq-len", "32"]);
      assert.equal(e.code, 1);
      assert.equal(
        e.stderr.trim(),
        "error: Cannot evaluate: token 9038 at index 50 is >= vocab_size 512 (the tokens were made with a tokenizer that is not the model's)",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
