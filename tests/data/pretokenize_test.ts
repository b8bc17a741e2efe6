import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { JsonArrayStream, JsonArraySyntaxError } from "../../src/data/json_stream.ts";
import {
  pretokenize,
  pretokenizeShard,
  pyStrip,
  shardOutputPath,
  type StoryTokenizer,
} from "../../src/data/pretokenize.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { assertBytes, prng, tinyStoriesExample } from "../helpers/tarball.ts";
import { sharedFile } from "../helpers/data.ts";
import { runMain } from "../helpers/cli.ts";

const enc = new TextEncoder();

/** Python's str.isspace() code points (from `[c for c in range(0x110000) if chr(c).isspace()]`). */
const PY_SPACE = [
  0x9,
  0xa,
  0xb,
  0xc,
  0xd,
  0x1c,
  0x1d,
  0x1e,
  0x1f,
  0x20,
  0x85,
  0xa0,
  0x1680,
  0x2000,
  0x2001,
  0x2002,
  0x2003,
  0x2004,
  0x2005,
  0x2006,
  0x2007,
  0x2008,
  0x2009,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
];

/** Streams `bytes` through JsonArrayStream in random-sized chunks. */
async function parseChunked(bytes: Uint8Array, seed: number, maxChunk = 64): Promise<unknown[]> {
  const rand = prng(seed);
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length;) {
        const n = 1 + Math.floor(rand() * maxChunk);
        c.enqueue(bytes.slice(i, i + n));
        i += n;
      }
      c.close();
    },
  });
  const out: unknown[] = [];
  for await (const v of src.pipeThrough(new JsonArrayStream())) out.push(v);
  return out;
}

/** A stand-in tokenizer: BOS then one id per code point (independent of the real one). */
const STUB: StoryTokenizer = {
  encode(text, opts) {
    const ids = Array.from(text, (ch) => 3 + (ch.codePointAt(0)! % 30000));
    return opts?.bos ? [1, ...ids] : ids;
  },
};

/** Expected file bytes: whole-document JSON.parse, strip, encode, uint16 little-endian. */
function expectedTokens(doc: string, tok: StoryTokenizer): Uint8Array {
  const ids: number[] = [];
  for (const ex of JSON.parse(doc)) ids.push(...tok.encode(_strip(ex.story), { bos: true }));
  const out = new Uint8Array(ids.length * 2);
  const dv = new DataView(out.buffer);
  ids.forEach((id, i) => dv.setUint16(2 * i, id, true));
  return out;
}

/** Strip written from the code point list, not the regex under test. */
function _strip(s: string): string {
  const cps = Array.from(s);
  const sp = (c: string) => PY_SPACE.includes(c.codePointAt(0)!);
  let a = 0;
  let b = cps.length;
  while (a < b && sp(cps[a])) a++;
  while (b > a && sp(cps[b - 1])) b--;
  return cps.slice(a, b).join("");
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_pretok_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      out.push(...(await listTree(join(dir, e.name))).map((x) => `${e.name}/${x}`));
    } else out.push(e.name);
  }
  return out.sort();
}

Deno.test("JsonArrayStream yields what JSON.parse gives, for any chunking", async () => {
  const tricky = [
    { story: 'He said "hi, [friend]" \\ {ok}', n: [1, [2, [3]], { a: "]" }] },
    'plain string with , and ] and \\"',
    42,
    -1.5e-7,
    null,
    true,
    [],
    {},
    { story: "multi-byte: é ü 漢字 😀, emoji split across chunks" },
  ];
  const rand = prng(3);
  const items = [...tricky, ...Array.from({ length: 50 }, () => tinyStoriesExample(rand))];
  const docs = [
    JSON.stringify(items),
    JSON.stringify(items, null, 2),
    "\ufeff \n[ " + items.map((x) => JSON.stringify(x)).join(" ,\n\t") + " ]\n ",
    "[]",
    " [ ] ",
    "[1]",
  ];
  for (const doc of docs) {
    for (const seed of [1, 2]) {
      assertEquals(
        await parseChunked(enc.encode(doc), seed),
        JSON.parse(doc.replace(/^\ufeff/, "")),
      );
    }
  }
});

Deno.test("JsonArrayStream reports the element index of malformed input", async () => {
  const cases: [string, number][] = [
    ['[{"a":1},{"a":}]', 1],
    ["[1,2,]", 2],
    ["[1 2]", 0],
    ['[{"a":1}', 0],
    ['[{"a":1},', 1],
    ['{"a":1}', 0],
    ["[1,2] x", 2],
    ["", 0],
    ['[1,{"a":"unterminated}]', 1],
    ["[,1]", 0],
  ];
  for (const [doc, index] of cases) {
    await rejects(parseChunked(enc.encode(doc), 1, 4), (e: unknown) => {
      ok(e instanceof JsonArraySyntaxError && e instanceof SyntaxError, `${doc}: ${e}`);
      assertEquals(e.index, index, `${doc}: ${e.message}`);
      return true;
    });
  }
  const badUtf8 = new Uint8Array([...enc.encode('["ok", "'), 0xff, ...enc.encode('"]')]);
  await rejects(parseChunked(badUtf8, 1), { index: 1, detail: "invalid UTF-8" });
});

Deno.test("pyStrip removes exactly Python's str.isspace() characters", () => {
  const all = PY_SPACE.map((c) => String.fromCodePoint(c)).join("");
  assertEquals(pyStrip(`${all}a b${all}`), "a b");
  // Not whitespace for Python, although JavaScript's trim() strips U+FEFF.
  for (const c of ["\ufeff", "\u200b", "\u180e", "x"]) {
    assertEquals(pyStrip(`${c} a ${c}`), `${c} a ${c}`);
  }
  for (let cp = 0; cp < 0x3001; cp++) {
    const c = String.fromCodePoint(cp);
    assertEquals(pyStrip(`${c}a${c}`) === "a", PY_SPACE.includes(cp), `U+${cp.toString(16)}`);
  }
});

Deno.test("shardOutputPath follows tinystories.py", () => {
  const j = join("d", "TinyStories_all_data", "data07.json");
  assertEquals(shardOutputPath("d", j, 0), join("d", "TinyStories_all_data", "data07.bin"));
  assertEquals(shardOutputPath("d", j, 512), join("d", "tok512", "data07.bin"));
});

Deno.test("pretokenizeShard writes strip+BOS tokens as uint16 LE (stub tokenizer)", async () => {
  await withTempDir(async (dir) => {
    const rand = prng(11);
    const items = Array.from({ length: 3000 }, (_, i) => {
      const ex = tinyStoriesExample(rand);
      if (i % 7 === 0) ex.story = `\n\u3000 ${ex.story}\u0085 \n`;
      if (i % 11 === 0) ex.story = " 漢字 😀 ";
      if (i === 5) ex.story = "   ";
      return ex;
    });
    const doc = JSON.stringify(items);
    const json = join(dir, "data00.json");
    await Deno.writeTextFile(json, doc);
    const bin = join(dir, "out", "data00.bin");
    const seen: number[] = [];
    const stats = await pretokenizeShard(json, bin, STUB, (s) => seen.push(s.stories));
    const want = expectedTokens(doc, STUB);
    assertBytes(await Deno.readFile(bin), want);
    assertEquals(stats, { bytes: enc.encode(doc).length, stories: 3000, tokens: want.length / 2 });
    ok(seen.length > 2 && seen.at(-1) === 3000, `progress ${seen}`);
    assertEquals(await listTree(join(dir, "out")), ["data00.bin"]);
  });
});

Deno.test("pretokenizeShard fails in one line naming shard and index, leaving no file", async () => {
  const rand = prng(5);
  const good = Array.from({ length: 40 }, () => JSON.stringify(tinyStoriesExample(rand)));
  const cases: [string, string, RegExp][] = [
    [
      `[${good.slice(0, 17).join(",")},{"story": oops},${good.slice(17).join(",")}]`,
      "SyntaxError",
      /^Cannot pretokenize data03\.json: invalid JSON at example 17 \(byte \d+\): /,
    ],
    [
      `[${good.slice(0, 23).join(",")},{"story": 7},${good.slice(23).join(",")}]`,
      "TypeError",
      /^Cannot pretokenize data03\.json: example 23 has no string "story" \(got a story of type number\)/,
    ],
    [
      `[${good.join(",")},"just a string"]`,
      "TypeError",
      /^Cannot pretokenize data03\.json: example 40 has no string "story"/,
    ],
    [`[${good.join(",")}`, "SyntaxError", /example 39 .*ends before the closing/],
  ];
  for (const [doc, name, message] of cases) {
    await withTempDir(async (dir) => {
      const json = join(dir, "data03.json");
      await Deno.writeTextFile(json, doc);
      await rejects(pretokenizeShard(json, join(dir, "data03.bin"), STUB), (e: Error) => {
        assertEquals(e.name, name, e.message);
        ok(message.test(e.message) && !e.message.includes("\n"), e.message);
        return true;
      });
      assertEquals(await listTree(dir), ["data03.json"]);
    });
  }
});

// ---- With the real tokenizer and Deno Workers ----

const tokPath = await sharedFile("tokenizer.model");
const samplePath = await sharedFile("tinystories_valid_sample.txt");
const sampleBin = await sharedFile("tinystories_valid_sample.llama2.bin");
const haveReal = tokPath !== null && samplePath !== null && sampleBin !== null;

/** The sample's stories, unstripped (as pieces between <|endoftext|>), non-empty ones. */
async function sampleStories(): Promise<string[]> {
  const text = await Deno.readTextFile(samplePath!);
  return text.split("<|endoftext|>").filter((s) => pyStrip(s) !== "");
}

/** Writes `DATA/TinyStories_all_data/dataNN.json` shards; returns their paths. */
async function writeShards(dataDir: string, shards: string[][]): Promise<string[]> {
  const d = join(dataDir, "TinyStories_all_data");
  await Deno.mkdir(d, { recursive: true });
  const rand = prng(1);
  const paths: string[] = [];
  for (const [i, stories] of shards.entries()) {
    const p = join(d, `data${String(i).padStart(2, "0")}.json`);
    await Deno.writeTextFile(p, JSON.stringify(stories.map((s) => tinyStoriesExample(rand, s))));
    paths.push(p);
  }
  return paths;
}

Deno.test({
  name: "pretokenize with workers is byte-identical to llama2.c on the validation sample",
  ignore: !haveReal,
  fn: async () => {
    const stories = await sampleStories();
    assertEquals(stories.length, 176);
    const want = await Deno.readFile(sampleBin!);
    for (const workers of [1, 2]) {
      await withTempDir(async (dataDir) => {
        // Shard 0: the whole sample (compared to llama2.c's file); shards 1-3: thirds of it.
        const third = Math.ceil(stories.length / 3);
        const parts = [0, 1, 2].map((k) => stories.slice(k * third, (k + 1) * third));
        await writeShards(dataDir, [stories, ...parts]);
        const r = await pretokenize({ dataDir, tokenizer: tokPath!, workers });
        assertEquals(r.outputs.length, 4);
        assertBytes(await Deno.readFile(r.outputs[0]), want);
        const joined = new Uint8Array(want.length);
        let off = 0;
        for (const o of r.outputs.slice(1)) {
          const b = await Deno.readFile(o);
          joined.set(b, off);
          off += b.length;
        }
        assertBytes(joined, want);
        assertEquals(r.tokens, want.length);
        assertEquals(r.stories, 2 * 176);
        const files = await listTree(join(dataDir, "TinyStories_all_data"));
        ok(files.every((f) => !f.endsWith(".part")), `${files}`);
      });
    }
  },
});

Deno.test({
  name: "pretokenize writes tok{N}/ for a custom vocab and fails cleanly on a bad shard",
  ignore: !haveReal,
  fn: async () => {
    const stories = (await sampleStories()).slice(0, 20);
    await withTempDir(async (dataDir) => {
      const paths = await writeShards(dataDir, [stories, stories, stories]);
      // A "custom" vocabulary of size 32000 that happens to be the Llama 2 model.
      await Deno.copyFile(tokPath!, join(dataDir, "tok32000.model"));
      const r = await pretokenize({ dataDir, vocabSize: 32000, workers: 2 });
      assertEquals(r.outputs, [0, 1, 2].map((i) => join(dataDir, "tok32000", `data0${i}.bin`)));
      const tok = await Tokenizer.load(tokPath!);
      const want = expectedTokens(await Deno.readTextFile(paths[0]), tok);
      for (const o of r.outputs) assertBytes(await Deno.readFile(o), want);

      await Deno.writeTextFile(paths[1], '[{"story": "fine"}, {"story": ]');
      await Deno.remove(join(dataDir, "tok32000"), { recursive: true });
      await rejects(pretokenize({ dataDir, vocabSize: 32000, workers: 2 }), {
        name: "SyntaxError",
        message: /^Cannot pretokenize data01\.json: invalid JSON at example 1 /,
      });
      const left: string[] = await listTree(join(dataDir, "tok32000")).catch(() => []);
      ok(!left.includes("data01.bin") && left.every((f) => !f.endsWith(".part")), `${left}`);
    });
  },
});

Deno.test("pretokenize names where to get a missing tokenizer", async () => {
  await withTempDir(async (dataDir) => {
    await writeShards(dataDir, [["a story"]]);
    await rejects(pretokenize({ dataDir }), {
      message: /^Cannot pretokenize: tokenizer model .*tokenizer\.model not found; get .*llama2\.c/,
    });
  });
});

Deno.test({
  name: "pretokenize CLI: bad flag exits 2, a corrupt shard exits 1 with one line",
  ignore: tokPath === null,
  fn: async () => {
    const run = (args: string[]) => runMain(["pretokenize", ...args]);
    const bad = await run(["--wrokers=2"]);
    assertEquals(bad.code, 2, bad.stderr);
    assertEquals((await run(["--workers=0"])).code, 2);
    await withTempDir(async (dataDir) => {
      const [p] = await writeShards(dataDir, [["one", "two"]]);
      await Deno.writeTextFile(p, '[{"story": "one"}, {"story": null}]');
      const r = await run(["--data-dir", dataDir, "--tokenizer", tokPath!, "--workers", "1"]);
      assertEquals(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines, [
        'error: Cannot pretokenize data00.json: example 1 has no string "story" (got a story of type null)',
      ]);
    });
  },
});

Deno.test("pretokenize with a tokenizer that is not a SentencePiece model names the file", async () => {
  await withTempDir(async (dataDir) => {
    await writeShards(dataDir, [["a story"], ["another"]]);
    const bad = join(dataDir, "garbage.model");
    await Deno.writeFile(bad, new Uint8Array([0x0f, 0xff, 0x13, 0x37, 0x42]));
    await rejects(pretokenize({ dataDir, tokenizer: bad, workers: 1 }), (e: Error) => {
      ok(e.message.startsWith(`Cannot load tokenizer ${bad}: `), e.message);
      ok(!e.message.includes("\n"), e.message);
      return true;
    });
  });
});
