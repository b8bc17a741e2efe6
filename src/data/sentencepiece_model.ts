/**
 * SentencePiece's `ModelProto` (`sentencepiece_model.proto`, proto2): a hand-written reader and
 * writer for `.model` files, so no protobuf library is needed at run time.
 *
 * Every field a tokenizer or a vocabulary trainer needs is typed; an optional field that is
 * `undefined` was absent from the file (proto2 presence), and the proto's default applies (see
 * {@link TRAINER_SPEC_DEFAULTS} and {@link NORMALIZER_SPEC_DEFAULTS}). Fields this reader does not
 * know are kept as raw bytes in `unknownFields` and written back after the known ones, so a
 * canonical file (as SentencePiece writes it: fields in number order) round-trips
 * byte-identically through {@link parseModelProto} and {@link encodeModelProto}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeModelProto, parseModelProto } from "./sentencepiece_model.ts";
 *
 * const file = await Deno.readFile("tokenizer.model"); // Llama 2's
 * const model = parseModelProto(file);
 * assert.equal(model.pieces.length, 32000);
 * assert.equal(model.trainerSpec.byteFallback, true);
 * assert.deepEqual(encodeModelProto(model), file); // the same bytes as the file
 * ```
 *
 * @module
 */
import { WireReader, WireWriter } from "./protobuf_wire.ts";

/** `ModelProto.SentencePiece.Type`: how the encoder treats a piece. */
export enum PieceType {
  /** An ordinary piece, merged by BPE. */
  NORMAL = 1,
  /** The unknown piece (`<unk>`). */
  UNKNOWN = 2,
  /** A control symbol (`<s>`, `</s>`): never produced from text. */
  CONTROL = 3,
  /** A user-defined symbol: always one piece, matched before any merge. */
  USER_DEFINED = 4,
  /** A piece that is kept in the vocabulary but resegmented when produced. */
  UNUSED = 5,
  /** A byte-fallback piece `<0xNN>`. */
  BYTE = 6,
}

/** `TrainerSpec.ModelType`. */
export enum ModelType {
  /** Unigram language model. */
  UNIGRAM = 1,
  /** Byte-pair encoding (Llama 2's tokenizer). */
  BPE = 2,
  /** Whitespace-delimited words. */
  WORD = 3,
  /** Single characters. */
  CHAR = 4,
}

/** One vocabulary entry; its id is its index in {@link ModelProto.pieces}. */
export interface SentencePiece {
  /** The piece text (spaces written as U+2581); never empty. */
  piece: string;
  /** Merge priority for BPE (higher merges first); log probability for unigram. */
  score: number;
  /** How the encoder treats the piece; `NORMAL` is not written to the file (proto default). */
  type: PieceType;
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** `TrainerSpec`: how the model was trained; the encoder reads the ids and `byteFallback`. */
export interface TrainerSpec {
  /** 1: input corpus files. */
  input?: string[];
  /** 2: output model file prefix. */
  modelPrefix?: string;
  /** 3: algorithm (default UNIGRAM). */
  modelType?: ModelType;
  /** 4: vocabulary size (default 8000). */
  vocabSize?: number;
  /** 5: accepted languages (informational). */
  acceptLanguage?: string[];
  /** 6: self-test samples stored in the model (default 0). */
  selfTestSampleSize?: number;
  /** 7: corpus format, `text` or `tsv`. */
  inputFormat?: string;
  /** 10: fraction of characters covered by the alphabet (default 0.9995). */
  characterCoverage?: number;
  /** 11: sentences loaded from the input (uint64, default 0 = all). */
  inputSentenceSize?: number;
  /** 12: sentences used to mine seed pieces. */
  miningSentenceSize?: number;
  /** 13: sentences used to train. */
  trainingSentenceSize?: number;
  /** 14: seed pieces for unigram (default 1000000). */
  seedSentencepieceSize?: number;
  /** 15: unigram shrinking factor (default 0.75). */
  shrinkingFactor?: number;
  /** 16: trainer threads (default 16). */
  numThreads?: number;
  /** 17: EM sub-iterations (default 2). */
  numSubIterations?: number;
  /** 18: longest sentence in bytes (default 4192). */
  maxSentenceLength?: number;
  /** 19: shuffle the loaded sentences (default true). */
  shuffleInputSentence?: boolean;
  /** 20: longest piece in characters (default 16). */
  maxSentencepieceLength?: number;
  /** 21: never mix Unicode scripts in a piece (default true). */
  splitByUnicodeScript?: boolean;
  /** 22: never put whitespace inside a piece (default true). */
  splitByWhitespace?: boolean;
  /** 23: never mix digits and other characters (default true). */
  splitByNumber?: boolean;
  /** 24: whitespace ends words instead of starting them (default false). */
  treatWhitespaceAsSuffix?: boolean;
  /** 25: every digit is its own piece (default false). */
  splitDigits?: boolean;
  /** 26: allow pieces made only of whitespace (default false). */
  allowWhitespaceOnlyPieces?: boolean;
  /** 30: control symbols besides `<s>` `</s>`. */
  controlSymbols?: string[];
  /** 31: user-defined symbols. */
  userDefinedSymbols?: string[];
  /** 32: write piece scores to the .vocab file (default true). */
  vocabularyOutputPieceScore?: boolean;
  /** 33: vocab_size is a hard limit (default true). */
  hardVocabLimit?: boolean;
  /** 34: use all vocabulary for the char model (default false). */
  useAllVocab?: boolean;
  /** 35: unknown characters become UTF-8 byte pieces `<0xNN>` (default false). */
  byteFallback?: boolean;
  /** 36: characters that must be in the alphabet. */
  requiredChars?: string;
  /** 40: id of `<unk>` (default 0). */
  unkId?: number;
  /** 41: id of `<s>` (default 1; -1 = none). */
  bosId?: number;
  /** 42: id of `</s>` (default 2; -1 = none). */
  eosId?: number;
  /** 43: id of `<pad>` (default -1 = none). */
  padId?: number;
  /** 44: what `<unk>` decodes to (default `" \u2047 "`). */
  unkSurface?: string;
  /** 45: the unknown piece (default `<unk>`). */
  unkPiece?: string;
  /** 46: the begin-of-sentence piece (default `<s>`). */
  bosPiece?: string;
  /** 47: the end-of-sentence piece (default `</s>`). */
  eosPiece?: string;
  /** 48: the padding piece (default `<pad>`). */
  padPiece?: string;
  /** 49: 64-bit counters in the trainer (default false). */
  trainExtremelyLargeCorpus?: boolean;
  /** 50: differentially private training (default false). */
  enableDifferentialPrivacy?: boolean;
  /** 51: noise level for differential privacy (default 0). */
  differentialPrivacyNoiseLevel?: number;
  /** 52: clipping threshold for differential privacy (uint64, default 0). */
  differentialPrivacyClippingThreshold?: number;
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** `NormalizerSpec`: how text is normalized before encoding. */
export interface NormalizerSpec {
  /** 1: rule name (`identity` for Llama 2, `nmt_nfkc` by default when training). */
  name?: string;
  /** 2: compiled character map (empty for `identity`). */
  precompiledCharsmap?: Uint8Array;
  /** 3: prepend one space so the first word looks like the others (default true). */
  addDummyPrefix?: boolean;
  /** 4: drop leading and trailing spaces and collapse runs (default true; Llama 2: false). */
  removeExtraWhitespaces?: boolean;
  /** 5: write spaces as U+2581 (default true). */
  escapeWhitespaces?: boolean;
  /** 6: custom rules as TSV (training only). */
  normalizationRuleTsv?: string;
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** One `SelfTestData.Sample`. */
export interface SelfTestSample {
  /** 1: input text. */
  input?: string;
  /** 2: expected pieces, space-separated. */
  expected?: string;
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** `SelfTestData`: samples to verify a model with. */
export interface SelfTestData {
  /** 1: the samples. */
  samples?: SelfTestSample[];
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** `ModelProto`: a whole SentencePiece `.model` file. */
export interface ModelProto {
  /** 1: the vocabulary; a piece's id is its index. */
  pieces: SentencePiece[];
  /** 2: training settings (always written). */
  trainerSpec: TrainerSpec;
  /** 3: normalization settings (always written). */
  normalizerSpec: NormalizerSpec;
  /** 4: self-test samples. */
  selfTestData?: SelfTestData;
  /** 5: denormalization applied after decoding. */
  denormalizerSpec?: NormalizerSpec;
  /** Fields of this message the reader does not know, as raw wire bytes. */
  unknownFields?: Uint8Array;
}

/** The proto defaults of every {@link TrainerSpec} field the encoder or a trainer reads. */
export const TRAINER_SPEC_DEFAULTS = {
  modelType: ModelType.UNIGRAM,
  vocabSize: 8000,
  selfTestSampleSize: 0,
  characterCoverage: 0.9995,
  inputSentenceSize: 0,
  seedSentencepieceSize: 1000000,
  shrinkingFactor: 0.75,
  numThreads: 16,
  numSubIterations: 2,
  maxSentenceLength: 4192,
  shuffleInputSentence: true,
  maxSentencepieceLength: 16,
  splitByUnicodeScript: true,
  splitByWhitespace: true,
  splitByNumber: true,
  treatWhitespaceAsSuffix: false,
  splitDigits: false,
  allowWhitespaceOnlyPieces: false,
  vocabularyOutputPieceScore: true,
  hardVocabLimit: true,
  useAllVocab: false,
  byteFallback: false,
  unkId: 0,
  bosId: 1,
  eosId: 2,
  padId: -1,
  unkSurface: " \u2047 ",
  unkPiece: "<unk>",
  bosPiece: "<s>",
  eosPiece: "</s>",
  padPiece: "<pad>",
  trainExtremelyLargeCorpus: false,
  enableDifferentialPrivacy: false,
  differentialPrivacyNoiseLevel: 0,
  differentialPrivacyClippingThreshold: 0,
} as const;

/** The proto defaults of the {@link NormalizerSpec} flags. */
export const NORMALIZER_SPEC_DEFAULTS = {
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
} as const;

// ---------------------------------------------------------------------------------------------
// Schema: field number, key, kind. Kept sorted by field number (the order fields are written).

type _Kind = "string" | "bytes" | "int32" | "uint64" | "float" | "bool" | "message";

interface _Field {
  no: number;
  key: string;
  kind: _Kind;
  repeated?: boolean;
  schema?: _Field[];
}

const _TRAINER: _Field[] = [
  { no: 1, key: "input", kind: "string", repeated: true },
  { no: 2, key: "modelPrefix", kind: "string" },
  { no: 3, key: "modelType", kind: "int32" },
  { no: 4, key: "vocabSize", kind: "int32" },
  { no: 5, key: "acceptLanguage", kind: "string", repeated: true },
  { no: 6, key: "selfTestSampleSize", kind: "int32" },
  { no: 7, key: "inputFormat", kind: "string" },
  { no: 10, key: "characterCoverage", kind: "float" },
  { no: 11, key: "inputSentenceSize", kind: "uint64" },
  { no: 12, key: "miningSentenceSize", kind: "int32" },
  { no: 13, key: "trainingSentenceSize", kind: "int32" },
  { no: 14, key: "seedSentencepieceSize", kind: "int32" },
  { no: 15, key: "shrinkingFactor", kind: "float" },
  { no: 16, key: "numThreads", kind: "int32" },
  { no: 17, key: "numSubIterations", kind: "int32" },
  { no: 18, key: "maxSentenceLength", kind: "int32" },
  { no: 19, key: "shuffleInputSentence", kind: "bool" },
  { no: 20, key: "maxSentencepieceLength", kind: "int32" },
  { no: 21, key: "splitByUnicodeScript", kind: "bool" },
  { no: 22, key: "splitByWhitespace", kind: "bool" },
  { no: 23, key: "splitByNumber", kind: "bool" },
  { no: 24, key: "treatWhitespaceAsSuffix", kind: "bool" },
  { no: 25, key: "splitDigits", kind: "bool" },
  { no: 26, key: "allowWhitespaceOnlyPieces", kind: "bool" },
  { no: 30, key: "controlSymbols", kind: "string", repeated: true },
  { no: 31, key: "userDefinedSymbols", kind: "string", repeated: true },
  { no: 32, key: "vocabularyOutputPieceScore", kind: "bool" },
  { no: 33, key: "hardVocabLimit", kind: "bool" },
  { no: 34, key: "useAllVocab", kind: "bool" },
  { no: 35, key: "byteFallback", kind: "bool" },
  { no: 36, key: "requiredChars", kind: "string" },
  { no: 40, key: "unkId", kind: "int32" },
  { no: 41, key: "bosId", kind: "int32" },
  { no: 42, key: "eosId", kind: "int32" },
  { no: 43, key: "padId", kind: "int32" },
  { no: 44, key: "unkSurface", kind: "string" },
  { no: 45, key: "unkPiece", kind: "string" },
  { no: 46, key: "bosPiece", kind: "string" },
  { no: 47, key: "eosPiece", kind: "string" },
  { no: 48, key: "padPiece", kind: "string" },
  { no: 49, key: "trainExtremelyLargeCorpus", kind: "bool" },
  { no: 50, key: "enableDifferentialPrivacy", kind: "bool" },
  { no: 51, key: "differentialPrivacyNoiseLevel", kind: "float" },
  { no: 52, key: "differentialPrivacyClippingThreshold", kind: "uint64" },
];

const _NORMALIZER: _Field[] = [
  { no: 1, key: "name", kind: "string" },
  { no: 2, key: "precompiledCharsmap", kind: "bytes" },
  { no: 3, key: "addDummyPrefix", kind: "bool" },
  { no: 4, key: "removeExtraWhitespaces", kind: "bool" },
  { no: 5, key: "escapeWhitespaces", kind: "bool" },
  { no: 6, key: "normalizationRuleTsv", kind: "string" },
];

const _SAMPLE: _Field[] = [
  { no: 1, key: "input", kind: "string" },
  { no: 2, key: "expected", kind: "string" },
];

const _SELF_TEST: _Field[] = [
  { no: 1, key: "samples", kind: "message", repeated: true, schema: _SAMPLE },
];

const _PIECE: _Field[] = [
  { no: 1, key: "piece", kind: "string" },
  { no: 2, key: "score", kind: "float" },
  { no: 3, key: "type", kind: "int32" },
];

const _MODEL: _Field[] = [
  { no: 1, key: "pieces", kind: "message", repeated: true, schema: _PIECE },
  { no: 2, key: "trainerSpec", kind: "message", schema: _TRAINER },
  { no: 3, key: "normalizerSpec", kind: "message", schema: _NORMALIZER },
  { no: 4, key: "selfTestData", kind: "message", schema: _SELF_TEST },
  { no: 5, key: "denormalizerSpec", kind: "message", schema: _NORMALIZER },
];

function _wireType(kind: _Kind): number {
  switch (kind) {
    case "float":
      return 5;
    case "int32":
    case "uint64":
    case "bool":
      return 0;
    default:
      return 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Reader

const _utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const _index = new WeakMap<_Field[], (_Field | undefined)[]>();

function _lookup(schema: _Field[], no: number): _Field | undefined {
  let idx = _index.get(schema);
  if (!idx) {
    idx = [];
    for (const f of schema) idx[f.no] = f;
    _index.set(schema, idx);
  }
  return idx[no];
}

function _readMessage(r: WireReader, schema: _Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const unknown: Uint8Array[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    const tag = r.uint();
    const no = Math.floor(tag / 8), wire = tag & 7;
    if (no === 0) r.fail("field number 0");
    const f = _lookup(schema, no);
    if (!f || _wireType(f.kind) !== wire) {
      r.skip(wire, no);
      unknown.push(r.buf.subarray(start, r.pos));
      continue;
    }
    let v: unknown;
    switch (f.kind) {
      case "int32":
        v = r.varint64()[0] | 0;
        break;
      case "uint64":
        v = r.uint();
        break;
      case "bool": {
        const [lo, hi] = r.varint64();
        v = (lo | hi) !== 0;
        break;
      }
      case "float":
        if (r.end - r.pos < 4) r.fail("truncated float");
        v = r.view.getFloat32(r.pos, true);
        r.pos += 4;
        break;
      case "string":
      case "bytes":
      case "message": {
        const n = r.length();
        const s = r.pos;
        r.pos += n;
        if (f.kind === "bytes") v = r.buf.slice(s, s + n);
        else if (f.kind === "string") {
          try {
            v = _utf8.decode(r.buf.subarray(s, s + n));
          } catch {
            r.pos = s;
            r.fail(`invalid UTF-8 in field ${f.key}`);
          }
        } else v = _readMessage(new WireReader(r.buf, r.view, s, s + n), f.schema!);
        break;
      }
    }
    if (f.repeated) ((out[f.key] ??= []) as unknown[]).push(v);
    else out[f.key] = v;
  }
  if (unknown.length > 0) out.unknownFields = _concat(unknown);
  return out;
}

function _concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Parses a SentencePiece `.model` file.
 *
 * @param bytes the file's bytes
 * @returns the model; absent optional fields are `undefined`, unknown fields kept raw
 * @throws {SyntaxError} on truncated or malformed protobuf, or strings that are not UTF-8
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseModelProto, PieceType } from "./sentencepiece_model.ts";
 *
 * const model = parseModelProto(await Deno.readFile("tokenizer.model")); // Llama 2's
 * assert.deepEqual(model.pieces[1], { piece: "<s>", score: 0, type: PieceType.CONTROL });
 * ```
 */
export function parseModelProto(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot parse ModelProto: expected a Uint8Array");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = _readMessage(new WireReader(bytes, view, 0, bytes.length), _MODEL);
  const pieces = ((m.pieces ?? []) as Record<string, unknown>[]).map((p) => {
    const sp: SentencePiece = {
      piece: (p.piece as string | undefined) ?? "",
      score: (p.score as number | undefined) ?? 0,
      type: (p.type as PieceType | undefined) ?? PieceType.NORMAL,
    };
    if (p.unknownFields) sp.unknownFields = p.unknownFields as Uint8Array;
    return sp;
  });
  const model: ModelProto = {
    pieces,
    trainerSpec: (m.trainerSpec ?? {}) as TrainerSpec,
    normalizerSpec: (m.normalizerSpec ?? {}) as NormalizerSpec,
  };
  if (m.selfTestData) model.selfTestData = m.selfTestData as SelfTestData;
  if (m.denormalizerSpec) model.denormalizerSpec = m.denormalizerSpec as NormalizerSpec;
  if (m.unknownFields) model.unknownFields = m.unknownFields as Uint8Array;
  return model;
}

// ---------------------------------------------------------------------------------------------
// Writer

const _utf8e = new TextEncoder();

function _checkInt(key: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new TypeError(`Cannot encode ModelProto: ${key} must be an integer, got ${String(v)}`);
  }
  if (v < lo || v > hi) {
    throw new RangeError(`Cannot encode ModelProto: ${key} = ${v} is outside [${lo}, ${hi}]`);
  }
  return v;
}

function _writeValue(w: WireWriter, f: _Field, v: unknown): void {
  w.uint(f.no * 8 + _wireType(f.kind));
  switch (f.kind) {
    case "int32": {
      const n = _checkInt(f.key, v, -0x80000000, 0x7fffffff);
      w.varint64(n >>> 0, n < 0 ? 0xffffffff : 0);
      return;
    }
    case "uint64":
      w.uint(_checkInt(f.key, v, 0, Number.MAX_SAFE_INTEGER));
      return;
    case "bool":
      if (typeof v !== "boolean") {
        throw new TypeError(`Cannot encode ModelProto: ${f.key} must be a boolean`);
      }
      w.uint(v ? 1 : 0);
      return;
    case "float":
      if (typeof v !== "number") {
        throw new TypeError(`Cannot encode ModelProto: ${f.key} must be a number`);
      }
      w.reserve(4);
      w.view.setFloat32(w.pos, v, true);
      w.pos += 4;
      return;
    case "string":
      if (typeof v !== "string") {
        throw new TypeError(`Cannot encode ModelProto: ${f.key} must be a string`);
      }
      w.bytes(_utf8e.encode(v));
      return;
    case "bytes":
      if (!(v instanceof Uint8Array)) {
        throw new TypeError(`Cannot encode ModelProto: ${f.key} must be a Uint8Array`);
      }
      w.bytes(v);
      return;
    case "message":
      w.bytes(_writeMessage(v as Record<string, unknown>, f.schema!));
      return;
  }
}

function _writeMessage(
  m: Record<string, unknown>,
  schema: _Field[],
  into?: WireWriter,
): Uint8Array {
  const w = into ?? new WireWriter();
  for (const f of schema) {
    const v = m[f.key];
    if (v === undefined) continue;
    if (f.repeated) {
      if (!Array.isArray(v)) {
        throw new TypeError(`Cannot encode ModelProto: ${f.key} must be an array`);
      }
      for (const x of v) _writeValue(w, f, x);
    } else _writeValue(w, f, v);
  }
  const unk = m.unknownFields;
  if (unk !== undefined) {
    if (!(unk instanceof Uint8Array)) {
      throw new TypeError("Cannot encode ModelProto: unknownFields must be a Uint8Array");
    }
    w.raw(unk);
  }
  return into ? new Uint8Array(0) : w.result();
}

/**
 * Serializes a model as SentencePiece writes it: known fields in field-number order, then the
 * unknown fields kept by {@link parseModelProto}. A piece's `type` is written unless it is
 * `NORMAL` (the proto default), as SentencePiece's trainer does.
 *
 * @param model the model
 * @returns the `.model` file's bytes
 * @throws {TypeError} when a field has the wrong type
 * @throws {RangeError} when an integer field is out of its range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeModelProto, ModelType, parseModelProto, PieceType } from "./sentencepiece_model.ts";
 *
 * const bytes = encodeModelProto({
 *   pieces: [{ piece: "<unk>", score: 0, type: PieceType.UNKNOWN }],
 *   trainerSpec: { modelType: ModelType.BPE, vocabSize: 1 },
 *   normalizerSpec: { name: "identity" },
 * });
 * assert.equal(parseModelProto(bytes).pieces[0].piece, "<unk>");
 * ```
 */
export function encodeModelProto(model: ModelProto): Uint8Array {
  if (model === null || typeof model !== "object" || !Array.isArray(model.pieces)) {
    throw new TypeError("Cannot encode ModelProto: expected an object with a pieces array");
  }
  const w = new WireWriter();
  const pw = new WireWriter();
  for (const p of model.pieces) {
    if (p === null || typeof p !== "object") {
      throw new TypeError("Cannot encode ModelProto: each piece must be an object");
    }
    pw.pos = 0;
    _writeValue(pw, _PIECE[0], p.piece);
    _writeValue(pw, _PIECE[1], p.score);
    if (p.type !== PieceType.NORMAL) _writeValue(pw, _PIECE[2], p.type);
    if (p.unknownFields !== undefined) {
      if (!(p.unknownFields instanceof Uint8Array)) {
        throw new TypeError("Cannot encode ModelProto: unknownFields must be a Uint8Array");
      }
      pw.raw(p.unknownFields);
    }
    w.uint(_MODEL[0].no * 8 + 2);
    w.bytes(pw.buf.subarray(0, pw.pos));
  }
  const rest: Record<string, unknown> = {
    trainerSpec: model.trainerSpec ?? {},
    normalizerSpec: model.normalizerSpec ?? {},
    selfTestData: model.selfTestData,
    denormalizerSpec: model.denormalizerSpec,
    unknownFields: model.unknownFields,
  };
  _writeMessage(rest, _MODEL.slice(1), w);
  return w.result();
}
