/**
 * The CLI as a whole: top-level help lists every command, each command's --help works and exits
 * 0, unknown commands and flags exit 2 with one line, and the README documents every command and
 * every flag (so it stays true).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/data.ts";
import { runMain } from "../helpers/cli.ts";

const cli = (...args: string[]) => runMain(args);

Deno.test("every command has --help, and the README documents every command and flag", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  for (
    const c of [
      "download",
      "pretokenize",
      "train-vocab",
      "encode",
      "train",
      "sample",
      "export",
      "eval",
      "bench",
    ]
  ) assert.ok(commands.includes(c), `top-level help lacks ${c}`);
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  for (const c of commands) {
    const h = await cli(c, "--help");
    assert.equal(h.code, 0, `${c} --help: ${h.stderr}`);
    assert.ok(readme.includes(`main.ts ${c}`), `README does not show \`main.ts ${c}\``);
    const flags = [...h.stdout.matchAll(/^ {2}(?:-\w, )?--([a-z0-9-]+)/gm)].map((m) => m[1]).filter(
      (f) => f !== "help",
    );
    assert.ok(flags.length > 0 || c === "bench", `${c} lists no flags`);
    for (const f of flags) {
      assert.ok(readme.includes(`--${f}`), `README does not document ${c} --${f}`);
    }
  }
});

Deno.test("unknown commands and flags exit 2 with one line", async () => {
  const bad = await cli("frobnicate");
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  const flag = await cli("train", "--no-such-flag");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr.trim(), /^error: unknown flag --no-such-flag/);
  assert.equal(flag.stderr.trim().split("\n").length, 1);
});
