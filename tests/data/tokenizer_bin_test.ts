import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ModelProto,
  parseModelProto,
  PieceType,
  TRAINER_SPEC_DEFAULTS,
} from "../../src/data/sentencepiece_model.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { encodeTokenizerBin, readTokenizerBin } from "../../src/data/tokenizer_bin.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";

const FIX = join(REPO_ROOT, "tests", "fixtures");
const FIXTURE_MODELS = [
  "tokenizer_small_bpe.model",
  "tokenizer_small_nofallback.model",
  "tokenizer_small_suffix.model",
  "tokenizer_small_unused.model",
];
const modelPath = await sharedFile("tokenizer.model");
const binPath = await sharedFile("tokenizer.bin");

/** The type llama2.c's tokenizer.bin keeps of a piece: BOS/EOS, unk and bytes; the rest NORMAL. */
function binType(m: ModelProto, id: number): PieceType {
  const t = m.pieces[id].type ?? PieceType.NORMAL;
  const bos = m.trainerSpec.bosId ?? TRAINER_SPEC_DEFAULTS.bosId;
  const eos = m.trainerSpec.eosId ?? TRAINER_SPEC_DEFAULTS.eosId;
  if (id === bos || id === eos) return PieceType.CONTROL;
  if (t === PieceType.UNKNOWN || t === PieceType.BYTE) return t;
  return PieceType.NORMAL;
}

Deno.test("tokenizer.bin round-trips: write, read, write gives the same bytes, pieces and scores", async () => {
  for (const name of FIXTURE_MODELS) {
    const model = parseModelProto(await Deno.readFile(join(FIX, name)));
    const bin = encodeTokenizerBin(model);
    const back = readTokenizerBin(bin);
    assert.equal(back.pieces.length, model.pieces.length, name);
    model.pieces.forEach((p, i) => {
      assert.equal(back.pieces[i].piece, p.piece, `${name} piece ${i}`);
      assert.equal(back.pieces[i].score, Math.fround(p.score), `${name} score ${i}`);
      assert.equal(back.pieces[i].type, binType(model, i), `${name} type of ${p.piece}`);
    });
    assert.deepEqual(encodeTokenizerBin(back), bin, `${name}: second write differs`);
    // The Tokenizer's writer (used by train-vocab) lays out the same bytes.
    assert.deepEqual(Tokenizer.fromModelProto(model).toLlama2cBin(), bin, name);
  }
});

Deno.test({
  name: "tokenizer.bin of the Llama 2 model equals llama2.c's file and reads back to it",
  ignore: modelPath === null || binPath === null,
  fn: async () => {
    const ref = await Deno.readFile(binPath!);
    assert.deepEqual(encodeTokenizerBin(await Deno.readFile(modelPath!)), ref);
    const back = readTokenizerBin(ref);
    assert.equal(back.pieces.length, 32000);
    assert.equal(back.trainerSpec.bosId, 1);
    assert.equal(back.trainerSpec.eosId, 2);
    assert.equal(back.trainerSpec.unkId, 0);
    assert.deepEqual(encodeTokenizerBin(back), ref);
  },
});

Deno.test("readTokenizerBin rejects truncated and non-UTF-8 files in one line", () => {
  const model = parseModelProto(Deno.readFileSync(join(FIX, FIXTURE_MODELS[0])));
  const bin = encodeTokenizerBin(model);
  const oneLine = (f: () => unknown, type: ErrorConstructor, re: RegExp) =>
    assert.throws(f, (e: Error) => {
      assert.ok(e instanceof type, `${e.name}: ${e.message}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  oneLine(() => readTokenizerBin(bin.subarray(0, 3)), SyntaxError, /4-byte header/);
  oneLine(() => readTokenizerBin(bin.subarray(0, bin.length - 1)), SyntaxError, /past the end/);
  oneLine(() => readTokenizerBin(bin, model.pieces.length + 1), SyntaxError, /truncated/);
  oneLine(() => readTokenizerBin(bin, 0), RangeError, /vocabSize must be > 0/);
  const bad = bin.slice();
  bad[4 + 8] = 0xff; // first byte of token 0's text
  oneLine(() => readTokenizerBin(bad), SyntaxError, /token 0 is not UTF-8/);
  assert.equal(readTokenizerBin(bin, 5).pieces.length, 5);
});
