/**
 * writeFileAtomic: the destination is whole or untouched, no temporary file is left, and an
 * error names the path the caller gave, never the temporary file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/util/atomic.ts";
import { runMain } from "../helpers/cli.ts";
import { sharedFile } from "../helpers/data.ts";

Deno.test("writeFileAtomic errors name the destination, not the temp file, and leave nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = join(dir, "nodir", "sub", "c.bin");
    await assert.rejects(writeFileAtomic(missing, new Uint8Array(4)), (e: Error) => {
      assert.ok(e instanceof Deno.errors.NotFound);
      assert.equal(
        e.message,
        `Cannot write ${missing}: its directory ${join(dir, "nodir", "sub")} does not exist`,
      );
      return true;
    });
    await Deno.mkdir(join(dir, "adir"));
    await assert.rejects(writeFileAtomic(join(dir, "adir"), new Uint8Array(4)), (e: Error) => {
      assert.match(e.message, new RegExp(`^Cannot write ${join(dir, "adir")}: `));
      assert.doesNotMatch(e.message, /\.tmp/);
      return true;
    });
    await writeFileAtomic(join(dir, "ok.bin"), new Uint8Array([1, 2]));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["adir", "ok.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const stories = await sharedFile("stories260K.bin");

Deno.test({
  name: "export --out into a missing directory names that path in one line",
  ignore: stories === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "nodir", "sub", "c.bin");
      const r = await runMain(["export", "--checkpoint", stories!, "--out", out]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr.trim(),
        `error: Cannot write ${out}: its directory ${join(dir, "nodir", "sub")} does not exist`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
