import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { safeEntryPath, type TarEvent, type TarHeader, UntarStream } from "../../src/data/untar.ts";
import { assertBytes, makeTar, prng } from "../helpers/tarball.ts";

/** Feeds `bytes` to UntarStream in random-sized chunks and collects files by name. */
async function untar(
  bytes: Uint8Array,
  seed = 1,
): Promise<{ headers: TarHeader[]; files: Map<string, Uint8Array> }> {
  const rand = prng(seed);
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      let i = 0;
      while (i < bytes.length) {
        const n = 1 + Math.floor(rand() * 1500);
        c.enqueue(bytes.slice(i, i + n));
        i += n;
      }
      c.close();
    },
  });
  const headers: TarHeader[] = [];
  const files = new Map<string, Uint8Array>();
  let parts: Uint8Array[] = [];
  for await (const ev of src.pipeThrough(new UntarStream()) as ReadableStream<TarEvent>) {
    if (ev.kind === "header") {
      headers.push(ev.header);
      parts = [];
    } else if (ev.kind === "data") parts.push(ev.bytes);
    else {
      const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) (out.set(p, o), o += p.length);
      assertEquals(out.length, ev.header.size);
      files.set(ev.header.name, out);
    }
  }
  return { headers, files };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

Deno.test("UntarStream returns every file's bytes for sizes around block boundaries", async () => {
  const sizes = [0, 1, 511, 512, 513, 1024, 70_001];
  const entries = sizes.map((n, i) => ({ name: `data${i}.json`, data: randomBytes(n, i + 7) }));
  const longName = `${"d".repeat(60)}/${"e".repeat(60)}/long.json`;
  entries.push({ name: longName, data: randomBytes(3000, 99) });
  const tar = makeTar([{ name: "sub/", type: "5" }, ...entries]);
  for (const seed of [1, 2, 3]) {
    const { headers, files } = await untar(tar, seed);
    assertEquals(headers[0].type, "directory");
    assertEquals(files.size, entries.length + 1);
    for (const e of entries) assertBytes(files.get(e.name)!, e.data, e.name);
  }
});

Deno.test("UntarStream reads GNU and pax archives written by the system tar", async (t) => {
  let hasTar = false;
  try {
    hasTar = (await new Deno.Command("tar", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch { /* no tar */ }
  const dir = await Deno.makeTempDir();
  try {
    const long = `${"x".repeat(80)}/${"y".repeat(90)}.json`;
    await Deno.mkdir(`${dir}/src/${"x".repeat(80)}`, { recursive: true });
    const a = randomBytes(5000, 3);
    const b = randomBytes(777, 4);
    await Deno.writeFile(`${dir}/src/a.json`, a);
    await Deno.writeFile(`${dir}/src/${long}`, b);
    for (const format of ["gnu", "pax"]) {
      await t.step({
        name: format,
        ignore: !hasTar,
        fn: async () => {
          const out = await new Deno.Command("tar", {
            args: [`--format=${format}`, "-cf", "-", "-C", `${dir}/src`, "a.json", long],
            stdout: "piped",
          }).output();
          assertEquals(out.success, true);
          const { files } = await untar(out.stdout);
          assertBytes(files.get("a.json")!, a);
          assertBytes(files.get(long)!, b);
        },
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UntarStream rejects a bad checksum and a truncated archive", async () => {
  const tar = makeTar([{ name: "a.json", data: randomBytes(2000, 5) }]);
  const bad = tar.slice();
  bad[10] ^= 1;
  let err: unknown;
  await untar(bad).catch((e) => (err = e));
  assertEquals(err instanceof SyntaxError, true);
  err = undefined;
  await untar(tar.slice(0, 1500)).catch((e) => (err = e));
  assertEquals(err instanceof SyntaxError, true);
  assertEquals(String((err as Error).message).startsWith("Cannot read tar archive"), true);
});

Deno.test("safeEntryPath keeps paths inside the target", () => {
  assertEquals(safeEntryPath("./data00.json"), "data00.json");
  assertEquals(safeEntryPath("a//b/./c.json"), "a/b/c.json");
  for (const bad of ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", ".", ""]) {
    throws(() => safeEntryPath(bad), { name: "SyntaxError", message: /^Cannot extract entry/ });
  }
});
