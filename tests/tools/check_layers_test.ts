import assert from "node:assert/strict";
import { join } from "node:path";
import { checkLayers, layersAcyclic, loadGraph, selfTest } from "../../tools/check_layers.ts";
import { REPO_ROOT } from "../helpers/data.ts";

Deno.test("check_layers finds every violation planted in synthetic graphs (--self-test)", () => {
  assert.ok(layersAcyclic());
  assert.deepEqual(selfTest(), []);
});

Deno.test("the repository's src/, mod.ts and main.ts follow the layers", async () => {
  const g = await loadGraph(REPO_ROOT);
  assert.ok(g.files.includes("src/data/dataset.ts") && g.files.includes("mod.ts"));
  assert.ok(g.files.includes("src/data/pretokenize_worker.ts"), "files only a Worker loads");
  assert.deepEqual(checkLayers(g), []);
});

Deno.test("check_layers exits 1 on a tree with an upward import and a file cycle", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = async (path: string, text: string) => {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    };
    await write("src/train/random.ts", "export const seed = 1;\n");
    await write("src/data/dataset.ts", 'import { seed } from "../train/random.ts";\nseed;\n');
    await write("src/train/log.ts", 'import type { P } from "./plot.ts";\nexport type L = P;\n');
    await write("src/train/plot.ts", 'import type { L } from "./log.ts";\nexport type P = L[];\n');
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(REPO_ROOT, "tools", "check_layers.ts"), "--root", dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 1, err);
    assert.match(err, /src\/data\/dataset\.ts imports src\/train\/random\.ts: data may import/);
    assert.match(err, /file cycle: src\/train\/log\.ts <-> src\/train\/plot\.ts/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
