import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelType, parseModelProto } from "../../src/data/sentencepiece_model.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { REPO_ROOT, sharedFile, sharedFixture } from "../helpers/data.ts";

const FIX = join(REPO_ROOT, "tests", "fixtures");
const modelPath = await sharedFile("tokenizer.model");
const binPath = await sharedFile("tokenizer.bin");
const casesPath = await sharedFixture("llama2_tokenizer_cases.jsonl");
const samplePath = await sharedFile("tinystories_valid_sample.txt");
const sampleIdsPath = await sharedFile("tinystories_valid_sample.llama2.bin");

interface Case {
  text?: string;
  ids: number[];
  decoded: string;
  model?: string;
}

async function _cases(path: string): Promise<Case[]> {
  return (await Deno.readTextFile(path)).split("\n").filter((l) => l.length > 0).map((l) =>
    JSON.parse(l)
  );
}

let _llama: Tokenizer | null = null;
async function llama(): Promise<Tokenizer> {
  _llama ??= await Tokenizer.load(modelPath!);
  return _llama;
}

/** Checks every case, reporting the first mismatches with their text. */
function _checkCases(label: string, tok: (c: Case) => Tokenizer, cases: Case[]): void {
  const bad: string[] = [];
  for (const [i, c] of cases.entries()) {
    const t = tok(c);
    if (c.text !== undefined) {
      const ids = t.encode(c.text);
      if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
        bad.push(`#${i} encode ${JSON.stringify(c.text).slice(0, 80)}: got ${ids} want ${c.ids}`);
      }
    }
    const d = t.decode(c.ids);
    if (d !== c.decoded) {
      bad.push(`#${i} decode ${c.ids}: got ${JSON.stringify(d)} want ${JSON.stringify(c.decoded)}`);
    }
  }
  assert.equal(bad.length, 0, `${label}: ${bad.length} mismatches\n${bad.slice(0, 5).join("\n")}`);
  assert(cases.length > 0, `${label}: no cases`);
}

function _same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test({
  name: "Tokenizer matches SentencePiece on every llama2_tokenizer_cases.jsonl case",
  ignore: modelPath === null || casesPath === null,
  fn: async () => {
    const tok = await llama();
    _checkCases("llama2 cases", () => tok, await _cases(casesPath!));
  },
});

Deno.test({
  name: "Tokenizer matches SentencePiece on random and adversarial strings (Llama 2 model)",
  ignore: modelPath === null,
  fn: async () => {
    const tok = await llama();
    const cases = await _cases(join(FIX, "tokenizer_random_cases.jsonl"));
    assert(cases.length >= 300);
    _checkCases("random cases", () => tok, cases);
    // The per-word cache must not change anything: encode again from a warm cache.
    _checkCases("random cases (warm cache)", () => tok, cases);
  },
});

Deno.test("Tokenizer matches SentencePiece with user symbols, no fallback, suffix, UNUSED", async () => {
  const cases = await _cases(join(FIX, "tokenizer_small_cases.jsonl"));
  const toks = new Map<string, Tokenizer>();
  for (const c of cases) {
    if (!toks.has(c.model!)) toks.set(c.model!, await Tokenizer.load(join(FIX, c.model!)));
  }
  assert.equal(toks.size, 4);
  _checkCases("small models", (c) => toks.get(c.model!)!, cases);
});

Deno.test({
  name: "Tokenizer encodes the TinyStories sample exactly as its pretokenized llama2 file",
  ignore: modelPath === null || samplePath === null || sampleIdsPath === null,
  fn: async () => {
    const tok = await llama();
    const stories = (await Deno.readTextFile(samplePath!)).split("<|endoftext|>").map((s) =>
      s.trim()
    ).filter((s) => s.length > 0);
    const ids: number[] = [];
    for (const s of stories) ids.push(...tok.encode(s, { bos: true }));
    const b = await Deno.readFile(sampleIdsPath!);
    const want = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    assert.equal(ids.length, want.length);
    const first = ids.findIndex((x, i) => x !== want[i]);
    assert.equal(first, -1, `first mismatch at token ${first}`);
  },
});

Deno.test({
  name: "toLlama2cBin is byte-identical to llama2.c's tokenizer.bin, and fromLlama2cBin inverts it",
  ignore: modelPath === null || binPath === null || casesPath === null,
  fn: async () => {
    const tok = await llama();
    const ref = await Deno.readFile(binPath!);
    assert(_same(tok.toLlama2cBin(), ref), "tokenizer.bin differs");
    const fromBin = Tokenizer.fromLlama2cBin(ref, 32000);
    assert.equal(fromBin.vocabSize, 32000);
    assert.equal(fromBin.bosId, 1);
    assert.equal(fromBin.eosId, 2);
    assert(_same(fromBin.toLlama2cBin(), ref), "fromLlama2cBin -> toLlama2cBin differs");
    assert.equal((await Tokenizer.load(binPath!)).vocabSize, 32000);
    _checkCases("llama2 cases via tokenizer.bin", () => fromBin, await _cases(casesPath!));
    assert.throws(() => Tokenizer.fromLlama2cBin(ref.subarray(0, 1000), 32000), SyntaxError);
  },
});

Deno.test({
  name: "decodePiece follows run.c: space after BOS stripped, <0xNN> gives the raw byte",
  ignore: modelPath === null,
  fn: async () => {
    const tok = await llama();
    const hello = tok.pieceToId("\u2581Hello");
    assert.equal(tok.decodePiece(tok.bosId, hello), "Hello");
    assert.equal(tok.decodePiece(hello, hello), " Hello");
    assert.equal(tok.decodePiece(hello, tok.bosId), "\n<s>\n");
    assert.equal(tok.decodePiece(hello, tok.eosId), "\n</s>\n");
    assert.equal(tok.decodePiece(hello, tok.pieceToId("<0x0A>")), "\n");
    assert.deepEqual([...tok.decodePieceBytes(hello, tok.pieceToId("<0xE4>"))], [0xe4]);
    // Streaming the byte pieces of an emoji through a TextDecoder gives the character.
    const ids = tok.encode("\u{1F600}");
    const dec = new TextDecoder();
    let s = "";
    let prev = tok.bosId;
    for (const id of ids) {
      s += dec.decode(tok.decodePieceBytes(prev, id), { stream: true });
      prev = id;
    }
    assert.equal(s + dec.decode(), "\u{1F600}");
  },
});

Deno.test({
  name: "Tokenizer rejects bad input with TypeError/RangeError/SyntaxError",
  ignore: modelPath === null,
  fn: async () => {
    const tok = await llama();
    assert.throws(() => tok.decode([32000]), RangeError);
    assert.throws(() => tok.decode([-1]), RangeError);
    assert.throws(() => tok.decode([1.5]), RangeError);
    assert.throws(() => tok.encode(42 as unknown as string), TypeError);
    assert.deepEqual(tok.encode("", { bos: true, eos: true }), [1, 2]);
    const m = parseModelProto(await Deno.readFile(modelPath!));
    assert.throws(
      () =>
        Tokenizer.fromModelProto({
          ...m,
          trainerSpec: { ...m.trainerSpec, modelType: ModelType.UNIGRAM },
        }),
      RangeError,
    );
    assert.throws(
      () => Tokenizer.fromModelProto({ ...m, pieces: [...m.pieces, m.pieces[100]] }),
      SyntaxError,
    );
  },
});

Deno.test({
  name: "an empty or truncated .model says so and names the file (not 'model type UNIGRAM')",
  ignore: modelPath === null,
  async fn() {
    const bytes = await Deno.readFile(modelPath!);
    const dir = await Deno.makeTempDir();
    try {
      // 100000 bytes ends exactly between two pieces: the parse succeeds without trainer_spec
      const cases: [number, RegExp][] = [
        [0, /has no pieces \(the file is empty or truncated\)/],
        [100000, /ends after \d+ pieces without its trainer_spec \(the file is truncated\)/],
        [1000, /runs past the end/],
      ];
      for (const [n, want] of cases) {
        const p = join(dir, `cut${n}.model`);
        await Deno.writeFile(p, bytes.subarray(0, n));
        await assert.rejects(Tokenizer.load(p), (e: Error) => {
          assert.match(e.message, want);
          assert.ok(e.message.startsWith(`Cannot load tokenizer ${p}: `), e.message);
          assert.doesNotMatch(e.message, /UNIGRAM/);
          return true;
        });
      }
      await assert.rejects(
        Tokenizer.load(join(dir, "nope.model")),
        /nope\.model: it does not exist/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("fromLlama2cBin without <unk>/<s>/</s> pieces uses run.c's ids 0, 1, 2", () => {
  const enc = new TextEncoder();
  const pieces = ["a", "b", "c", " ", "x", " x"];
  const toks = pieces.map((p) => enc.encode(p));
  const bytes = new Uint8Array(4 + toks.reduce((n, t) => n + 8 + t.length, 0));
  const dv = new DataView(bytes.buffer);
  dv.setInt32(0, 2, true);
  let at = 4;
  toks.forEach((t, i) => {
    dv.setFloat32(at, -i, true);
    dv.setInt32(at + 4, t.length, true);
    bytes.set(t, at + 8);
    at += 8 + t.length;
  });
  const tok = Tokenizer.fromLlama2cBin(bytes);
  assert.equal(tok.unkId, 0);
  assert.equal(tok.bosId, 1);
  assert.equal(tok.eosId, 2);
  assert.deepEqual(tok.encode("x", { bos: true, eos: true }), [1, 5, 2]);
  // run.c strips the space of the first piece after BOS
  assert.equal(tok.decodePiece(1, 5), "x");
});
