import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeModelProto,
  type ModelProto,
  ModelType,
  parseModelProto,
  PieceType,
} from "../../src/data/sentencepiece_model.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";

const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.deepStrictEqual(a, b, msg);
// deno-lint-ignore no-explicit-any
const assertThrows = (fn: () => unknown, cls: new (...a: any[]) => Error, has = "") =>
  assert.throws(fn, (e) => e instanceof cls && e.message.includes(has));

const llamaModel = await sharedFile("tokenizer.model");
const SMALL = ["bpe", "nofallback", "suffix", "unused"].map((n) =>
  join(REPO_ROOT, "tests", "fixtures", `tokenizer_small_${n}.model`)
);

function _sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test({
  name: "parseModelProto reads Llama 2's tokenizer.model and re-encodes it byte-identically",
  ignore: llamaModel === null,
  fn: async () => {
    const bytes = await Deno.readFile(llamaModel!);
    const m = parseModelProto(bytes);
    assertEquals(m.pieces.length, 32000);
    assertEquals(m.pieces[0], { piece: "<unk>", score: 0, type: PieceType.UNKNOWN });
    assertEquals(m.pieces[1].type, PieceType.CONTROL);
    assertEquals(m.pieces[3], { piece: "<0x00>", score: 0, type: PieceType.BYTE });
    assertEquals(m.pieces[29871].piece, "\u2581");
    assertEquals(m.trainerSpec.modelType, ModelType.BPE);
    assertEquals(m.trainerSpec.vocabSize, 32000);
    assertEquals(m.trainerSpec.byteFallback, true);
    assertEquals(m.trainerSpec.splitDigits, true);
    assertEquals(m.trainerSpec.padId, -1);
    assertEquals(m.trainerSpec.inputSentenceSize, 200000000);
    assertEquals(m.normalizerSpec.name, "identity");
    assertEquals(m.normalizerSpec.addDummyPrefix, true);
    assertEquals(m.normalizerSpec.removeExtraWhitespaces, false);
    assertEquals(m.normalizerSpec.escapeWhitespaces, undefined); // absent: default true
    // a piece with a leading U+FEFF must survive (TextDecoder strips BOMs unless told not to)
    assert(m.pieces.some((p) => p.piece === "\ufeff"));
    assert(_sameBytes(encodeModelProto(m), bytes), "re-encoded bytes differ");
  },
});

Deno.test("parseModelProto round-trips SentencePiece-trained BPE models byte-identically", async () => {
  for (const path of SMALL) {
    const bytes = await Deno.readFile(path);
    const m = parseModelProto(bytes);
    assertEquals(m.trainerSpec.modelType, ModelType.BPE, path);
    assert(_sameBytes(encodeModelProto(m), bytes), `${path}: re-encoded bytes differ`);
  }
  const m = parseModelProto(await Deno.readFile(SMALL[0]));
  assertEquals(m.trainerSpec.userDefinedSymbols, ["<sep>", "@@", "Lily"]);
  assert(m.pieces.some((p) => p.piece === "<sep>" && p.type === PieceType.USER_DEFINED));
  const unused = parseModelProto(await Deno.readFile(SMALL[3]));
  assert(unused.pieces.some((p) => p.type === PieceType.UNUSED));
});

Deno.test("encodeModelProto keeps unknown fields and writes proto2 presence exactly", () => {
  const model: ModelProto = {
    pieces: [
      { piece: "<unk>", score: 0, type: PieceType.UNKNOWN },
      { piece: "\u2581a", score: -1.5, type: PieceType.NORMAL },
      {
        piece: "x",
        score: 2,
        type: PieceType.NORMAL,
        unknownFields: new Uint8Array([0xc8, 0x0c, 7]),
      },
    ],
    trainerSpec: {
      modelType: ModelType.BPE,
      vocabSize: 3,
      padId: -1,
      controlSymbols: ["<a>", "<b>"],
      unknownFields: new Uint8Array([0xa8, 0x03, 0x2a]), // field 53 varint 42
    },
    normalizerSpec: { name: "identity", precompiledCharsmap: new Uint8Array([1, 2, 3]) },
    unknownFields: new Uint8Array([0x32, 0x01, 0x41]), // field 6, bytes "A"
  };
  const bytes = encodeModelProto(model);
  const back = parseModelProto(bytes);
  assertEquals(back, model);
  assert(_sameBytes(encodeModelProto(back), bytes));
  // Hand-check the first piece: tag 0x0a, then piece "<unk>", float 0, type 2.
  assertEquals(
    [...bytes.subarray(0, 14)],
    [0x0a, 14, 0x0a, 5, 0x3c, 0x75, 0x6e, 0x6b, 0x3e, 0x15, 0, 0, 0, 0],
  );
  assertEquals([...bytes.subarray(14, 16)], [0x18, 2]);
  // pad_id -1 is a 10-byte varint, as protobuf writes negative int32.
  const spec = encodeModelProto({ pieces: [], trainerSpec: { padId: -1 }, normalizerSpec: {} });
  assertEquals([...spec], [0x12, 12, 0xd8, 0x02, ...Array(9).fill(0xff), 0x01, 0x1a, 0]);
});

Deno.test("parseModelProto rejects malformed input with SyntaxError", () => {
  assertThrows(() => parseModelProto(new Uint8Array([0x0a, 5, 1])), SyntaxError, "runs past");
  assertThrows(() => parseModelProto(new Uint8Array([0x0a])), SyntaxError, "truncated");
  assertThrows(() => parseModelProto(new Uint8Array([0x0f])), SyntaxError, "wire type");
  assertThrows(() => parseModelProto(new Uint8Array([0x0a, 2, 0x0a, 0x01])), SyntaxError);
  // piece with invalid UTF-8
  assertThrows(
    () => parseModelProto(new Uint8Array([0x0a, 3, 0x0a, 1, 0xff])),
    SyntaxError,
    "UTF-8",
  );
  assertThrows(() => parseModelProto("x" as unknown as Uint8Array), TypeError);
  assertThrows(
    () => encodeModelProto({ pieces: [], trainerSpec: { vocabSize: 1.5 }, normalizerSpec: {} }),
    TypeError,
  );
  assertThrows(
    () => encodeModelProto({ pieces: [], trainerSpec: { vocabSize: 2 ** 31 }, normalizerSpec: {} }),
    RangeError,
  );
});
