/**
 * llama2.c's `tokenizer.bin`, read and written in one place: int32 max_token_length, then per
 * token id a float32 score, an int32 byte length and the UTF-8 bytes of the piece, where a space
 * stands for U+2581, BOS is written `"\n<s>\n"` and EOS `"\n</s>\n"` (llama2.c's
 * `tokenizer.py export`). The reader gives back a SentencePiece {@link ModelProto}, which
 * `Tokenizer.fromModelProto` (src/data/tokenizer.ts) encodes with; the writers take one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTokenizerBin, readTokenizerBin } from "./tokenizer_bin.ts";
 * import { PieceType } from "./sentencepiece_model.ts";
 *
 * const bin = encodeTokenizerBin({
 *   pieces: [
 *     { piece: "<unk>", score: 0, type: PieceType.UNKNOWN },
 *     { piece: "<s>", score: 0, type: PieceType.CONTROL },
 *     { piece: "</s>", score: 0, type: PieceType.CONTROL },
 *     { piece: "\u2581a", score: -1, type: PieceType.NORMAL },
 *   ],
 *   trainerSpec: {},
 *   normalizerSpec: {},
 * });
 * const back = readTokenizerBin(bin);
 * assert.deepEqual(back.pieces.map((p) => p.piece), ["<unk>", "<s>", "</s>", "\u2581a"]);
 * assert.deepEqual(encodeTokenizerBin(back), bin);
 * ```
 *
 * @module
 */
import {
  type ModelProto,
  ModelType,
  parseModelProto,
  PieceType,
  type SentencePiece,
  TRAINER_SPEC_DEFAULTS,
} from "./sentencepiece_model.ts";

const SPACE = "\u2581";
const _utf8 = new TextEncoder();
const _utf8dFatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads llama2.c's `tokenizer.bin` into a SentencePiece model. Types are inferred as llama2.c's
 * export wrote them: `\n<s>\n` and `\n</s>\n` are the control pieces (BOS and EOS), `<unk>` the
 * unknown piece, `<0xNN>` byte pieces (byte fallback is on when there are any), and a space
 * stands for U+2581; the normalizer is identity with a dummy prefix.
 *
 * @param bytes the file's bytes
 * @param vocabSize number of tokens to read (default: every token up to the end of the file)
 * @throws {SyntaxError} when the file is truncated or a token is not UTF-8
 * @throws {RangeError} when vocabSize is not a positive integer
 */
export function readTokenizerBin(bytes: Uint8Array, vocabSize?: number): ModelProto {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new SyntaxError(`Cannot read tokenizer.bin: ${what}`);
  };
  if (bytes.length < 4) fail("shorter than its 4-byte header");
  if (vocabSize !== undefined && !(Number.isInteger(vocabSize) && vocabSize > 0)) {
    throw new RangeError(`Cannot read tokenizer.bin: vocabSize must be > 0, got ${vocabSize}`);
  }
  const pieces: SentencePiece[] = [];
  let pos = 4, unkId = -1, bosId = -1, eosId = -1, hasBytes = false;
  while (vocabSize === undefined ? pos < bytes.length : pieces.length < vocabSize) {
    if (pos + 8 > bytes.length) fail(`truncated at token ${pieces.length}`);
    const score = view.getFloat32(pos, true), len = view.getInt32(pos + 4, true);
    pos += 8;
    if (len < 0 || pos + len > bytes.length) fail(`token ${pieces.length} runs past the end`);
    let s = "";
    try {
      s = _utf8dFatal.decode(bytes.subarray(pos, pos + len));
    } catch {
      fail(`token ${pieces.length} is not UTF-8`);
    }
    pos += len;
    const id = pieces.length;
    let type = PieceType.NORMAL;
    if (s === "\n<s>\n" && bosId < 0) {
      s = "<s>";
      type = PieceType.CONTROL;
      bosId = id;
    } else if (s === "\n</s>\n" && eosId < 0) {
      s = "</s>";
      type = PieceType.CONTROL;
      eosId = id;
    } else if (s === "<unk>" && unkId < 0) {
      type = PieceType.UNKNOWN;
      unkId = id;
    } else if (/^<0x[0-9A-F]{2}>$/.test(s)) {
      type = PieceType.BYTE;
      hasBytes = true;
    } else s = s.replaceAll(" ", SPACE);
    pieces.push({ piece: s, score, type });
  }
  return {
    pieces,
    trainerSpec: {
      modelType: ModelType.BPE,
      vocabSize: pieces.length,
      byteFallback: hasBytes,
      unkId,
      bosId,
      eosId,
      padId: -1,
    },
    normalizerSpec: { name: "identity", addDummyPrefix: true, removeExtraWhitespaces: false },
  };
}

/**
 * The `tokenizer.bin` bytes of each piece: the piece with U+2581 as a space, `"\n<s>\n"` for
 * the BOS id and `"\n</s>\n"` for the EOS id (-1: none).
 */
export function tokenBinBytes(
  pieces: readonly string[],
  bosId: number,
  eosId: number,
): Uint8Array[] {
  return pieces.map((p, i) =>
    _utf8.encode(i === bosId ? "\n<s>\n" : i === eosId ? "\n</s>\n" : p.replaceAll(SPACE, " "))
  );
}

/**
 * Lays out a `tokenizer.bin`: uint32 max_token_length, then per token float32 score, uint32
 * byte length and the bytes.
 *
 * @param tokens each token's bytes ({@link tokenBinBytes})
 * @param scores each token's score
 */
export function packTokenizerBin(
  tokens: readonly Uint8Array[],
  scores: ArrayLike<number>,
): Uint8Array<ArrayBuffer> {
  let total = 4, maxLen = 0;
  for (const t of tokens) {
    total += 8 + t.length;
    if (t.length > maxLen) maxLen = t.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, maxLen, true);
  let pos = 4;
  for (let i = 0; i < tokens.length; i++) {
    view.setFloat32(pos, scores[i], true);
    view.setUint32(pos + 4, tokens[i].length, true);
    out.set(tokens[i], pos + 8);
    pos += 8 + tokens[i].length;
  }
  return out;
}

/**
 * llama2.c's `tokenizer.bin` from a SentencePiece model, byte-identical to llama2.c's
 * `tokenizer.py export` (BOS and EOS are the trainer spec's `bos_id` and `eos_id`).
 *
 * @param model a parsed model or the bytes of a `.model` file
 * @throws {SyntaxError} for a malformed model file
 * @example
 * ```ts
 * import { encodeTokenizerBin } from "./tokenizer_bin.ts";
 *
 * await Deno.writeFile("tokenizer.bin", encodeTokenizerBin(await Deno.readFile("tokenizer.model")));
 * ```
 */
export function encodeTokenizerBin(model: ModelProto | Uint8Array): Uint8Array<ArrayBuffer> {
  const m = model instanceof Uint8Array ? parseModelProto(model) : model;
  const bos = m.trainerSpec.bosId ?? TRAINER_SPEC_DEFAULTS.bosId;
  const eos = m.trainerSpec.eosId ?? TRAINER_SPEC_DEFAULTS.eosId;
  const tokens = tokenBinBytes(m.pieces.map((p) => p.piece), bos, eos);
  return packTokenizerBin(tokens, m.pieces.map((p) => p.score));
}
