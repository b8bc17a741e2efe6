import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { dirname, join } from "node:path";
import { type DownloadOptions, downloadTinyStories } from "../../src/data/download.ts";
import {
  assertBytes,
  gzip,
  makeTar,
  prng,
  serveBytes,
  tinyStoriesShard,
} from "../helpers/tarball.ts";
import { runMain } from "../helpers/cli.ts";

const SHARDS = [0, 1, 2].map((i) => ({
  name: `data0${i}.json`,
  data: tinyStoriesShard(40 + 30 * i, i + 1),
}));
const TGZ = await gzip(makeTar(SHARDS));

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_dl_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(join(d, e.name), r);
      else out.push(r);
    }
  };
  await walk(dir, "");
  return out.sort();
}

async function assertShards(dataDir: string): Promise<void> {
  const dir = join(dataDir, "TinyStories_all_data");
  assertEquals(await listTree(dir), SHARDS.map((s) => s.name));
  for (const s of SHARDS) assertBytes(await Deno.readFile(join(dir, s.name)), s.data, s.name);
}

const FAST: Partial<DownloadOptions> = { backoffMs: 1, stallTimeoutMs: 5000 };

Deno.test("download extracts every shard of a served tarball", async () => {
  await using srv = serveBytes(TGZ);
  await withTempDir(async (dataDir) => {
    const r = await downloadTinyStories({ url: srv.url, dataDir, ...FAST });
    assertEquals(r.written, SHARDS.map((s) => s.name));
    assertEquals(r.bytes, TGZ.length);
    assertEquals(srv.ranges, [null]);
    await assertShards(dataDir);
  });
});

Deno.test("download resumes a dropped connection with a Range request", async () => {
  const cut = Math.floor(TGZ.length / 2);
  await using srv = serveBytes(TGZ, { dropAfter: [cut] });
  await withTempDir(async (dataDir) => {
    const notes: string[] = [];
    const r = await downloadTinyStories({
      url: srv.url,
      dataDir,
      ...FAST,
      onRetry: (m) => notes.push(m),
    });
    assertEquals(srv.ranges.length, 2);
    assertEquals(srv.ranges[0], null);
    const m = /^bytes=(\d+)-$/.exec(srv.ranges[1] ?? "");
    ok(m && Number(m[1]) > 0 && Number(m[1]) <= cut, `resume range ${srv.ranges[1]}`);
    assertEquals(r.resumes, 1);
    assertEquals(r.restarts, 0);
    assertEquals(r.bytes, TGZ.length);
    assertEquals(notes.length, 1);
    await assertShards(dataDir);
  });
});

Deno.test("download resumes a connection that stalls", async () => {
  const cut = Math.floor(TGZ.length / 3);
  await using srv = serveBytes(TGZ, { stallAfter: [cut] });
  await withTempDir(async (dataDir) => {
    const r = await downloadTinyStories({ url: srv.url, dataDir, ...FAST, stallTimeoutMs: 300 });
    assertEquals(srv.ranges, [null, `bytes=${cut}-`]);
    assertEquals(r.resumes, 1);
    await assertShards(dataDir);
  });
});

Deno.test("download restarts cleanly when the server ignores Range", async () => {
  await using srv = serveBytes(TGZ, {
    dropAfter: [Math.floor(TGZ.length * 0.7)],
    honourRange: false,
  });
  await withTempDir(async (dataDir) => {
    const r = await downloadTinyStories({ url: srv.url, dataDir, ...FAST });
    assertEquals(r.restarts, 1);
    assertEquals(srv.ranges.length, 3); // first try, ignored resume, restart from 0
    assertEquals(srv.ranges[2], null);
    // Shards completed before the drop are skipped on the restart, not written twice.
    assertEquals([...r.skipped, ...r.written].sort(), SHARDS.map((s) => s.name));
    ok(r.skipped.length >= 1, `skipped ${r.skipped}`);
    await assertShards(dataDir);
  });
});

Deno.test("download skips complete shards and rewrites one of the wrong size", async () => {
  await using srv = serveBytes(TGZ);
  await withTempDir(async (dataDir) => {
    await downloadTinyStories({ url: srv.url, dataDir, ...FAST });
    const f = join(dataDir, "TinyStories_all_data", "data01.json");
    await Deno.writeFile(f, new Uint8Array(10));
    const r = await downloadTinyStories({ url: srv.url, dataDir, ...FAST });
    assertEquals(r.skipped, ["data00.json", "data02.json"]);
    assertEquals(r.written, ["data01.json"]);
    await assertShards(dataDir);
  });
});

Deno.test("download fails in one line on garbage and leaves no file", async () => {
  const rand = prng(9);
  const junk = Uint8Array.from({ length: 5000 }, () => Math.floor(rand() * 256));
  await using srv = serveBytes(junk);
  await withTempDir(async (dataDir) => {
    await rejects(downloadTinyStories({ url: srv.url, dataDir, ...FAST }), (e: Error) => {
      ok(e instanceof SyntaxError, String(e));
      ok(/^Cannot download .*corrupt gzip/.test(e.message) && !e.message.includes("\n"));
      return true;
    });
    assertEquals(await listTree(dataDir), []);
  });
});

Deno.test("download rejects a gzip corrupted mid-file and removes what it wrote", async () => {
  const bad = TGZ.slice();
  const at = Math.floor(bad.length * 0.6);
  for (let i = at; i < at + 64; i++) bad[i] ^= 0x5a;
  await using srv = serveBytes(bad);
  await withTempDir(async (dataDir) => {
    // A shard from an earlier, good run is kept; everything this run wrote is suspect.
    const keep = join(dataDir, "TinyStories_all_data", SHARDS[0].name);
    await Deno.mkdir(dirname(keep), { recursive: true });
    await Deno.writeFile(keep, SHARDS[0].data);
    await rejects(downloadTinyStories({ url: srv.url, dataDir, ...FAST }), {
      name: "SyntaxError",
      message: /^Cannot download .*: corrupt gzip stream/,
    });
    assertEquals(await listTree(dataDir), [`TinyStories_all_data/${SHARDS[0].name}`]);
  });
});

Deno.test("download refuses a tar entry escaping the target directory", async () => {
  for (const evil of ["../evil.json", "/tmp/babyllama_evil.json", "a/../../evil.json"]) {
    const tgz = await gzip(makeTar([SHARDS[0], { name: evil, data: SHARDS[1].data }]));
    await using srv = serveBytes(tgz);
    await withTempDir(async (dataDir) => {
      await rejects(downloadTinyStories({ url: srv.url, dataDir, ...FAST }), {
        name: "SyntaxError",
        message: /escapes the target/,
      });
      assertEquals(await listTree(dataDir), ["TinyStories_all_data/data00.json"]);
    });
  }
  await rejects(Deno.stat("/tmp/babyllama_evil.json"));
});

Deno.test("download gives up after bounded retries on a dead server", async () => {
  const srv = serveBytes(TGZ);
  const url = srv.url;
  await srv.close();
  await withTempDir(async (dataDir) => {
    await rejects(downloadTinyStories({ url, dataDir, ...FAST, retries: 2 }), {
      message: /^Cannot download .*: connection failed 3 times at byte 0/,
    });
  });
});

Deno.test("download CLI: bad flag exits 2, corrupt stream exits 1 with one line", async () => {
  const run = (args: string[]) => runMain(["download", ...args]);
  const bad = await run(["--no-such-flag"]);
  assertEquals(bad.code, 2, bad.stderr);
  await using srv = serveBytes(new TextEncoder().encode("not a gzip file at all"));
  await withTempDir(async (dataDir) => {
    const r = await run(["--url", srv.url, "--data-dir", dataDir]);
    assertEquals(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    ok(/^error: Cannot download .*corrupt gzip/.test(lines[0]), lines[0]);
  });
});

Deno.test("download: a URL that is not http(s) fails at once, before any connection", async () => {
  await withTempDir(async (dataDir) => {
    for (const url of ["not-a-url", "ftp://127.0.0.1:1/x.tar.gz", "file:///etc/passwd"]) {
      const t0 = performance.now();
      // library: TypeError, no retries (a backoff of 1 s per retry would take 31 s)
      await rejects(downloadTinyStories({ url, dataDir, retries: 5, backoffMs: 1000 }), TypeError);
      // CLI: usage error, exit 2, one line naming the URL
      const r = await runMain(["download", "--url", url, "--data-dir", dataDir]);
      const s = (performance.now() - t0) / 1000;
      assertEquals(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      ok(lines[0].includes(`--url must be an http:// or https:// URL, got "${url}"`), lines[0]);
      ok(s < 10, `took ${s.toFixed(1)} s`);
    }
  });
});
