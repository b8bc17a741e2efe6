/**
 * One run per out dir: a second lock is refused in one line naming the holder; a lock file left
 * by a dead process is taken over with a note; the lock goes when released or when its holder
 * dies; `train` refuses an out dir another process holds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LOCK_FILE, lockOutDir } from "../../src/io/lock.ts";
import { runMain } from "../helpers/cli.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_lock_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lockOutDir refuses a held out dir in one line and frees it on release", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "out");
    const notes: string[] = [];
    const lock = await lockOutDir(out, { print: (s) => notes.push(s) });
    const info = JSON.parse(await Deno.readTextFile(join(out, LOCK_FILE)));
    assert.equal(info.pid, Deno.pid);
    assert.equal(info.hostname, Deno.hostname());
    await assert.rejects(lockOutDir(out), (e: Error) => {
      assert.equal(
        e.message,
        `Cannot train into ${out}: it is in use by another run (pid ${Deno.pid} on ${Deno.hostname()}, ` +
          `started ${info.started_at}); lock file ${join(out, LOCK_FILE)}`,
      );
      return true;
    });
    await lock.release();
    await lock.release(); // idempotent
    assert.deepEqual([...Deno.readDirSync(out)], [], "the lock file is removed");
    {
      await using again = await lockOutDir(out, { print: (s) => notes.push(s) });
      assert.equal(again.info.pid, Deno.pid);
    }
    assert.deepEqual(notes, [], "no stale-lock note after a clean release");
    await Deno.writeTextFile(join(dir, "afile"), "");
    await assert.rejects(lockOutDir(join(dir, "afile")), /afile: it .*is not a directory$/);
    await assert.rejects(lockOutDir(join(dir, "afile", "sub")), /is not a directory$/);
  });
});

Deno.test("a lock left by a killed process is taken over with a note; a live holder is refused", async () => {
  await withDir(async (dir) => {
    // a child takes the lock and waits; kill -9 leaves the file but the kernel drops the lock
    const code = `import { lockOutDir } from ${
      JSON.stringify(new URL("../../src/io/lock.ts", import.meta.url).href)
    };
      await lockOutDir(${
      JSON.stringify(dir)
    }); console.log("locked"); setInterval(() => {}, 1000);`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("locked")) {
      const r = await reader.read();
      if (r.done) break;
      seen += r.value;
    }
    assert.match(seen, /locked/);
    await assert.rejects(lockOutDir(dir), new RegExp(`in use by another run \\(pid ${child.pid} `));
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    assert.equal(JSON.parse(await Deno.readTextFile(join(dir, LOCK_FILE))).pid, child.pid);
    const notes: string[] = [];
    await using lock = await lockOutDir(dir, { print: (s) => notes.push(s) });
    assert.equal(lock.info.pid, Deno.pid);
    assert.equal(notes.length, 1);
    assert.match(
      notes[0],
      new RegExp(
        `^note: taking over the stale lock .* of pid ${child.pid} on .*no longer running$`,
      ),
    );
  });
});

Deno.test("train refuses an out dir held by another live process, in one line", async () => {
  await withDir(async (dir) => {
    await using _lock = await lockOutDir(dir);
    const r = await runMain(["train", "--out-dir", dir, "--data-dir", join(dir, "nodata")]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) =>
      !/XDG_RUNTIME_DIR|MESA|WARNING/.test(l)
    );
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      new RegExp(
        `^error: Cannot train into ${dir}: it is in use by another run \\(pid ${Deno.pid} `,
      ),
    );
  });
});

Deno.test("Deno.exit (a second Ctrl-C) still removes the lock file", async () => {
  await withDir(async (dir) => {
    const code = `import { lockOutDir } from ${
      JSON.stringify(new URL("../../src/io/lock.ts", import.meta.url).href)
    }; await lockOutDir(${JSON.stringify(dir)}); Deno.exit(130);`;
    const r = await new Deno.Command(Deno.execPath(), { args: ["eval", code] }).output();
    assert.equal(r.code, 130);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
