import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { join } from "node:path";
import { BpeTrainer, normalizeIdentity, splitIntoWords } from "../../src/data/bpe_trainer.ts";
import { bpeModelProto } from "../../src/data/train_vocab.ts";
import {
  encodeModelProto,
  ModelType,
  parseModelProto,
  PieceType,
} from "../../src/data/sentencepiece_model.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { runMain } from "../helpers/cli.ts";

interface SpFixture {
  vocab_size: number;
  pieces: [string, number][];
  lines?: [string, number][];
  encode?: [string, number[]][];
}

function fixture(name: string): SpFixture {
  return JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "tests", "fixtures", name)));
}

/** The first index where two piece lists differ, with both sides, for a readable failure. */
function firstDiff(got: [string, number][], want: [string, number][]): string {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    const g = got[i], w = want[i];
    if (!g || !w || g[0] !== w[0] || g[1] !== w[1]) {
      return `id ${i}: got ${JSON.stringify(got.slice(i, i + 4))}, ` +
        `sentencepiece ${JSON.stringify(want.slice(i, i + 4))}`;
    }
  }
  return "";
}

function pieceList(t: BpeTrainer): [string, number][] {
  return t.train().pieces.map((p) => [p.piece, p.score]);
}

const SAMPLE = await sharedFile("tinystories_valid_sample.txt");

/** The sample stories as llama2.c's train_vocab writes them: stripped, one per line. */
function sampleText(path: string): string {
  return Deno.readTextFileSync(path).split("<|endoftext|>").map((s) => s.trim())
    .filter((s) => s.length > 0).map((s) => s + "\n").join("");
}

for (const n of [512, 1200]) {
  Deno.test({
    name: `BpeTrainer matches sentencepiece 0.1.97 piece for piece on the sample stories, N=${n}`,
    ignore: SAMPLE === null,
    fn() {
      const fx = fixture(`vocab_sp_sample${n}.json`);
      const t = new BpeTrainer({ vocabSize: n });
      t.addText(sampleText(SAMPLE!));
      const got = pieceList(t);
      assertEquals(got.length, n);
      const d = firstDiff(got, fx.pieces);
      ok(d === "", d);
    },
  });
}

Deno.test({
  name: "a trained model loads, covers every byte, round-trips text and encodes like sentencepiece",
  ignore: SAMPLE === null,
  fn() {
    const fx = fixture("vocab_sp_sample1200.json");
    const t = new BpeTrainer({ vocabSize: 1200 });
    t.addText(sampleText(SAMPLE!));
    const bytes = encodeModelProto(bpeModelProto(t.train()));
    const tok = Tokenizer.fromModelProto(bytes);
    assertEquals(tok.vocabSize, 1200);
    for (let b = 0; b < 256; b++) {
      assertEquals(tok.pieceToId(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`), 3 + b);
    }
    // Python sentencepiece's ids for these texts on its own (identical) model.
    for (const [text, ids] of fx.encode!) assertEquals(tok.encode(text), ids, text);
    // Characters never seen in training fall back to bytes and decode back.
    for (
      const text of [
        "Once upon a time, Lily saw a big dog.",
        "Zoë & 猫 said: 42! 😀",
        "\u0000\u007f\u00ff edge bytes",
      ]
    ) {
      const ids = tok.encode(text);
      ok(ids.every((id) => id > 0 && id < 1200), text);
      assertEquals(tok.decode(ids), text);
    }
    // "▁" then the UTF-8 bytes E7 8C AB of 猫 as byte pieces.
    assertEquals(tok.encode("猫"), [tok.pieceToId("▁"), 3 + 0xe7, 3 + 0x8c, 3 + 0xab]);
  },
});

Deno.test("BpeTrainer matches sentencepiece on scripts, digits, tabs, meta strings, literal ▁", () => {
  // Accents, CJK, Cyrillic, Greek, emoji, combining marks, full-width digits, runs of spaces,
  // tabs, "<s>" in text, literal U+2581 runs, a line over 4192 bytes, a line with U+2585.
  const fx = fixture("vocab_sp_edge.json");
  const t = new BpeTrainer({ vocabSize: fx.vocab_size });
  for (const [line, k] of fx.lines!) for (let i = 0; i < k; i++) t.addSentence(line);
  const d = firstDiff(pieceList(t), fx.pieces);
  ok(d === "", d);
});

Deno.test("BpeTrainer caps pieces at 16 characters and fills up with spent pairs like sentencepiece", () => {
  const fx = fixture("vocab_sp_long.json");
  const t = new BpeTrainer({ vocabSize: fx.vocab_size });
  const [line, k] = fx.lines![0];
  for (let i = 0; i < k; i++) t.addSentence(line);
  const got = pieceList(t);
  const d = firstDiff(got, fx.pieces);
  ok(d === "", d);
  // Hand-checked: "▁abcdefghijklmn" (15) + "opqrstuvwxyz" (12) would be 27 characters.
  const set = new Set(got.map((p) => p[0]));
  ok(set.has("▁abcdefghijklmn") && set.has("opqrstuvwxyz"));
  ok(!got.some(([p]) => [...p].length > 16));
});

Deno.test("BpeTrainer merges the most frequent pair first, ties to the shorter then smaller piece", () => {
  // Words (with dummy prefix): ▁ab x6, ▁abc x3, ▁cd x2.
  // Pairs: (▁,a)=9 (a,b)=9 (b,c)=3 (▁,c)=2 (c,d)=2. Tie 9/9: both length 2; "ab" < "▁a" (U+2581
  // sorts after ASCII) -> "ab" first. Then (▁,ab)=9 -> "▁ab"; then (▁ab,c)=3 -> "▁abc";
  // then (▁,c)=2 vs (c,d)=2: "cd" < "▁c" -> "cd", then (▁,cd)=2 -> "▁cd". No pair occurs any
  // more; the 6th merge is the best spent pair (frequency 0): "bc" < "▁a" < "▁c".
  const t = new BpeTrainer({ vocabSize: 259 + 6 + 5 });
  t.addText("ab ab ab\nab ab ab\nabc abc abc\ncd cd");
  const v = t.train();
  assertEquals(v.pieces.slice(259).map((p) => [p.piece, p.score]), [
    ["ab", -0],
    ["▁ab", -1],
    ["▁abc", -2],
    ["cd", -3],
    ["▁cd", -4],
    ["bc", -5],
    // Characters by count: ▁ 11, a 9, b 9 (tie: smaller code point first), c 5, d 2.
    ["▁", -6],
    ["a", -7],
    ["b", -8],
    ["c", -9],
    ["d", -10],
  ]);
});

Deno.test("BpeTrainer never joins digits, ▁ after the start, or two scripts", () => {
  const t = new BpeTrainer({ vocabSize: 310 });
  const text = "1234 1234 1234 year 2024 x1 a. b! ab. Привет, мир. ok.\n".repeat(40);
  t.addText(text);
  const v = t.train();
  for (const { piece } of v.pieces.slice(259)) {
    const cps = [...piece];
    if (cps.length === 1) continue;
    ok(!/[0-9]/.test(piece), `digit in ${piece}`);
    ok(!cps.slice(1).includes("▁"), `inner ▁ in ${piece}`);
    const body = piece.replace(/^▁/, "");
    ok(!(/\p{Script=Latin}/u.test(body) && /[^\p{Script=Latin}]/u.test(body)), `mixed ${piece}`);
    ok(!(/\p{Script=Cyrillic}/u.test(body) && /[^\p{Script=Cyrillic}]/u.test(body)), piece);
  }
  // Every digit is a piece of its own.
  for (const d of "01234") ok(v.pieces.some((p) => p.piece === d), d);
});

Deno.test("BpeTrainer lays out ids as sentencepiece: meta, 256 bytes, merges, characters", () => {
  const t = new BpeTrainer({ vocabSize: 300 });
  t.addText("the cat sat on the mat\nthe dog sat on the log\n");
  const v = t.train();
  assertEquals(v.pieces.length, 300);
  assertEquals(v.pieces.slice(0, 3).map((p) => [p.piece, p.type]), [
    ["<unk>", PieceType.UNKNOWN],
    ["<s>", PieceType.CONTROL],
    ["</s>", PieceType.CONTROL],
  ]);
  for (let b = 0; b < 256; b++) {
    const p = v.pieces[3 + b];
    assertEquals(p.piece, `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    assertEquals(p.type, PieceType.BYTE);
  }
  const rest = v.pieces.slice(259);
  assertEquals(rest.map((p) => p.score), rest.map((_, i) => -i));
  ok(rest.every((p) => p.type === PieceType.NORMAL));
  assertEquals(new Set(v.pieces.map((p) => p.piece)).size, 300);
  assertEquals(rest.slice(v.numMerges).map((p) => p.piece).sort(), [..."▁thecasondgml"].sort());
});

Deno.test("BpeTrainer rejects a vocabulary too small for the alphabet or too large for the text", () => {
  throws(() => new BpeTrainer({ vocabSize: 259 }), RangeError);
  throws(() => new BpeTrainer({ vocabSize: 300.5 }), TypeError);
  const small = new BpeTrainer({ vocabSize: 262 });
  small.addText("abcdef");
  throws(() => small.train(), /smaller than the 259 meta pieces plus 7 required characters/);
  const big = new BpeTrainer({ vocabSize: 400 });
  big.addText("ab");
  throws(() => big.train(), /too large for this text/);
  throws(() => new BpeTrainer({ vocabSize: 300 }).train(), /no sentences/);
});

Deno.test("normalizeIdentity and splitIntoWords follow sentencepiece's identity normalizer", () => {
  assertEquals(normalizeIdentity("  Hi  there ", {}), "▁Hi▁there");
  assertEquals(normalizeIdentity("   ", {}), "");
  assertEquals(
    normalizeIdentity(" a  b ", { removeExtraWhitespaces: false, addDummyPrefix: false }),
    "▁a▁▁b▁",
  );
  assertEquals(normalizeIdentity("x <s> y</s><0x0A><0x0a>", {}), "▁x▁\t▁y\t\t<0x0a>");
  assertEquals(splitIntoWords("▁a▁▁b▁", true), ["▁a", "▁▁b", "▁"]);
  assertEquals(splitIntoWords("▁a▁▁b▁", false), ["▁a", "▁", "▁b", "▁"]);
  assertEquals(splitIntoWords("ab▁c", true), ["ab", "▁c"]);
});

Deno.test("bpeModelProto writes a BPE model sentencepiece's reader accepts and round-trips", () => {
  const t = new BpeTrainer({ vocabSize: 280 });
  t.addText("once upon a time there was a cat\n");
  const model = bpeModelProto(t.train(), { modelPrefix: "data/tok280", numThreads: 2 });
  const back = parseModelProto(encodeModelProto(model));
  assertEquals(back.pieces.length, 280);
  assertEquals(
    back.pieces.map((p) => [p.piece, p.type]),
    model.pieces.map((p) => [p.piece, p.type]),
  );
  assertEquals(back.trainerSpec.modelType, ModelType.BPE);
  assertEquals(back.trainerSpec.vocabSize, 280);
  assertEquals(back.trainerSpec.byteFallback, true);
  assertEquals(back.trainerSpec.splitDigits, true);
  assertEquals(back.trainerSpec.allowWhitespaceOnlyPieces, true);
  assertEquals(back.trainerSpec.modelPrefix, "data/tok280");
  assertEquals(back.normalizerSpec.name, "identity");
  assertEquals(back.normalizerSpec.addDummyPrefix, true);
});

// ---------------------------------------------------------------------------------------------
// The CLI

const runCli = (args: string[]) => runMain(args);

Deno.test("train-vocab writes tok{N}.model and tok{N}.bin from the first shards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_vocab_" });
  try {
    const shardDir = join(dir, "TinyStories_all_data");
    await Deno.mkdir(shardDir);
    const stories = [
      "  Once upon a time, there was a cat.\nThe cat liked to nap in the sun. ",
      "Tom had a red ball. He threw the ball to his dog Max, and Max ran.",
      "One day, Lily found a shiny stone. She showed it to her mom: 12 stones!",
    ];
    await Deno.writeTextFile(
      join(shardDir, "data00.json"),
      JSON.stringify(stories.map((story, i) => ({ story, instruction: { id: i } }))),
    );
    // A second shard that --num-shards 1 must not read (its characters would enter the alphabet).
    await Deno.writeTextFile(join(shardDir, "data01.json"), JSON.stringify([{ story: "ΩΩΩ" }]));
    const r = await runCli([
      "train-vocab",
      "--vocab-size",
      "300",
      "--data-dir",
      dir,
      "--num_shards=1",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const model = parseModelProto(await Deno.readFile(join(dir, "tok300.model")));
    assertEquals(model.pieces.length, 300);
    ok(!model.pieces.some((p) => p.piece.includes("Ω")));
    // Same vocabulary as training in-process on the stripped stories.
    const t = new BpeTrainer({ vocabSize: 300 });
    for (const s of stories) t.addText(s.trim());
    assertEquals(model.pieces.map((p) => p.piece), t.train().pieces.map((p) => p.piece));
    // llama2.c's tokenizer.bin: max length, then (score f32, length u32, bytes) per piece.
    const bin = await Deno.readFile(join(dir, "tok300.bin"));
    const view = new DataView(bin.buffer);
    let o = 4, n = 0, max = 0;
    const dec = new TextDecoder();
    const texts: string[] = [];
    while (o < bin.length) {
      const len = view.getUint32(o + 4, true);
      assertEquals(view.getFloat32(o, true), Math.fround(model.pieces[n].score));
      texts.push(dec.decode(bin.subarray(o + 8, o + 8 + len)));
      max = Math.max(max, len);
      o += 8 + len;
      n++;
    }
    assertEquals(n, 300);
    assertEquals(view.getUint32(0, true), max);
    assertEquals(texts.slice(0, 4), ["<unk>", "\n<s>\n", "\n</s>\n", "<0x00>"]);
    for (let i = 3; i < 300; i++) {
      assertEquals(texts[i], model.pieces[i].piece.replaceAll("▁", " "));
    }
    ok(texts.some((x) => x.length > 1 && x.startsWith(" ")));
    // No temporary files left behind.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["TinyStories_all_data", "tok300.bin", "tok300.model"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train-vocab exits 2 on bad flags and 1 without shards", async () => {
  for (
    const args of [
      [],
      ["--vocab-size", "abc"],
      ["--vocab-size", "100"],
      ["--vocab-size", "4096.5"],
      ["--vocab-size", "512", "--num-shards", "0"],
      ["--vocab-size", "512", "--bogus"],
    ]
  ) {
    const r = await runCli(["train-vocab", ...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    ok(r.stderr.startsWith("error: "), r.stderr);
  }
  const dir = await Deno.makeTempDir({ prefix: "train_vocab_" });
  try {
    const r = await runCli(["train-vocab", "--vocab-size", "512", "--data-dir", dir]);
    assertEquals(r.code, 1);
    ok(/Cannot train vocabulary: no \.json shards/.test(r.stderr), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
