/**
 * A SentencePiece-compatible BPE vocabulary trainer (what llama2.c's `tinystories.py train_vocab`
 * gets from `spm.SentencePieceTrainer.train(model_type="bpe", ...)`), in plain TypeScript.
 *
 * It follows SentencePiece's `bpe_model_trainer.cc` and `trainer_interface.cc` rule by rule:
 * - each input line is one sentence; empty lines, lines over `maxSentenceLength` bytes and lines
 *   holding U+2585 are skipped; the `identity` normalizer drops leading/trailing spaces and
 *   collapses runs (`removeExtraWhitespaces`), writes spaces as U+2581 `▁` and prepends one
 *   (`addDummyPrefix`); meta pieces (`<unk>`, `<s>`, `</s>`, `<0xNN>`) in the text become a tab,
 *   which never joins a piece;
 * - sentences split into words before every `▁` (a run of `▁` stays one word when
 *   `allowWhitespaceOnlyPieces`), and words are counted;
 * - the alphabet is every character (`characterCoverage` 1.0) except tab;
 * - the most frequent adjacent pair is merged first (ties: the shorter piece, then the smaller
 *   string); a pair is never counted when its piece would be invalid: longer than
 *   `maxPieceLength` characters, `▁` anywhere but first (unless the piece is all `▁`), a digit
 *   with anything (`splitDigits`), or two Unicode scripts;
 * - a merge whose string was already learned through another pair is dropped, as SentencePiece
 *   does;
 * - the vocabulary is `<unk> <s> </s>`, the 256 byte pieces `<0x00>`..`<0xFF>` (`byteFallback`),
 *   the merges with scores 0, -1, -2, ... in the order learned, then the characters by
 *   descending frequency with the scores that follow.
 *
 * The algorithm is the usual incremental one: words are counted once; pair counts live in a map
 * with the list of words holding each pair; a merge rewrites only the words that hold the pair
 * and adjusts their pair counts; the best pair comes from a lazy max-heap.
 *
 * One deliberate difference: SentencePiece 0.1.97 only searches an "active" subset of pairs (the
 * top 5% refreshed every 100 merges, plus new pairs), an approximation; this trainer always takes
 * the true maximum. On small corpora both give the same vocabulary.
 *
 * @example
 * ```ts
 * const trainer = new BpeTrainer({ vocabSize: 512 });
 * trainer.addText("Once upon a time, there was a cat.\nThe cat was happy.");
 * const vocab = trainer.train();
 * vocab.pieces.length; // 512
 * const model = bpeModelProto(vocab, { modelPrefix: "data/tok512" });
 * ```
 *
 * @module
 */
import { basename, join } from "node:path";
import { TINYSTORIES_DIR } from "./download.ts";
import { JsonArrayStream, JsonArraySyntaxError } from "./json_stream.ts";
import { pyStrip } from "./pretokenize.ts";
import { Tokenizer } from "./tokenizer.ts";
import {
  encodeModelProto,
  type ModelProto,
  ModelType,
  PieceType,
  type SentencePiece,
  type TrainerSpec,
} from "./sentencepiece_model.ts";
import { writeFileAtomic } from "../io/atomic.ts";

/** Options of {@link BpeTrainer}; defaults are llama2.c's `train_vocab` settings. */
export interface BpeTrainerOptions {
  /** Total vocabulary size, meta and byte pieces included. */
  vocabSize: number;
  /** Longest piece in characters (default 16, SentencePiece's `max_sentencepiece_length`). */
  maxPieceLength?: number;
  /** Every digit is its own piece (default true). */
  splitDigits?: boolean;
  /** Add the 256 `<0xNN>` byte pieces after the meta pieces (default true). */
  byteFallback?: boolean;
  /** Runs of `▁` stay one word and may become a piece (default true). */
  allowWhitespaceOnlyPieces?: boolean;
  /** Never join characters of different Unicode scripts (default true). */
  splitByUnicodeScript?: boolean;
  /** Drop leading/trailing spaces and collapse runs of spaces (default true, SentencePiece's). */
  removeExtraWhitespaces?: boolean;
  /** Prepend `▁` to every sentence (default true). */
  addDummyPrefix?: boolean;
  /** Sentences longer than this many UTF-8 bytes are skipped (default 4192). */
  maxSentenceLength?: number;
  /** Fraction of character occurrences the alphabet must cover (default 1.0). */
  characterCoverage?: number;
}

/** A trained vocabulary: the pieces in id order and how they came about. */
export interface BpeVocab {
  /** All `vocabSize` pieces: meta, bytes, merges, characters. */
  pieces: SentencePiece[];
  /** Number of learned merges (pieces of two or more characters). */
  numMerges: number;
  /** Number of single-character pieces (the alphabet). */
  numChars: number;
  /** Sentences used (after skipping empty, too long and reserved-character lines). */
  numSentences: number;
  /** Distinct words counted. */
  numWords: number;
  /** The options in effect, defaults filled in. */
  options: Required<BpeTrainerOptions>;
}

const WS = 0x2581; // ▁
const WS_STR = "\u2581";
const UNK_CHAR = 0x2585; // SentencePiece's kUNKChar: lines holding it are skipped
const TAB = 0x09; // SentencePiece's boundary character: never part of a piece
const _FAST_OK = /^[^\u2581\u2585<\ud800-\udfff]*$/;
const META_RE = /<unk>|<\/s>|<s>|<0x[0-9A-F]{2}>/g;

const DEFAULTS: Omit<Required<BpeTrainerOptions>, "vocabSize"> = {
  maxPieceLength: 16,
  splitDigits: true,
  byteFallback: true,
  allowWhitespaceOnlyPieces: true,
  splitByUnicodeScript: true,
  removeExtraWhitespaces: true,
  addDummyPrefix: true,
  maxSentenceLength: 4192,
  characterCoverage: 1.0,
};

/**
 * Learns a SentencePiece BPE vocabulary from sentences added one at a time; only word counts
 * are kept, so the corpus can be streamed.
 *
 * @example
 * ```ts
 * const t = new BpeTrainer({ vocabSize: 300 });
 * for (const line of text.split("\n")) t.addSentence(line);
 * const { pieces } = t.train();
 * ```
 */
export class BpeTrainer {
  /** The options, defaults filled in. */
  readonly options: Required<BpeTrainerOptions>;
  #words = new Map<string, number>();
  #spaced = new _WordCounter(); // words counted without their leading ▁
  #sentences = 0;

  /**
   * Creates a trainer with no sentences yet.
   *
   * @param options vocabulary size and SentencePiece trainer settings
   * @throws {TypeError} when `vocabSize` is not an integer
   * @throws {RangeError} when a size is out of range
   */
  constructor(options: BpeTrainerOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Cannot create BpeTrainer: options must be an object");
    }
    const o = { ...DEFAULTS, ...options } as Required<BpeTrainerOptions>;
    for (const k of ["vocabSize", "maxPieceLength", "maxSentenceLength"] as const) {
      if (!Number.isInteger(o[k])) {
        throw new TypeError(`Cannot create BpeTrainer: ${k} must be an integer, got ${o[k]}`);
      }
    }
    const meta = 3 + (o.byteFallback ? 256 : 0);
    if (o.vocabSize <= meta) {
      throw new RangeError(
        `Cannot create BpeTrainer: vocabSize ${o.vocabSize} must exceed the ${meta} meta pieces`,
      );
    }
    if (o.maxPieceLength < 1 || o.maxPieceLength > 512) {
      throw new RangeError(
        `Cannot create BpeTrainer: maxPieceLength ${o.maxPieceLength} is outside [1, 512]`,
      );
    }
    if (!(o.characterCoverage >= 0.98 && o.characterCoverage <= 1)) {
      throw new RangeError(
        `Cannot create BpeTrainer: characterCoverage ${o.characterCoverage} is outside [0.98, 1]`,
      );
    }
    this.options = o;
  }

  /** Sentences accepted so far. */
  get numSentences(): number {
    return this.#sentences;
  }

  /** Distinct words counted so far. */
  get numWords(): number {
    this.#fold();
    return this.#words.size;
  }

  /** Moves the fast path's counts into the word map. */
  #fold(): void {
    const words = this.#words, spaced = this.#spaced;
    for (let i = 0; i < spaced.keys.length; i++) {
      const k = WS_STR + spaced.keys[i];
      words.set(k, (words.get(k) ?? 0) + spaced.counts[i]);
    }
    this.#spaced = new _WordCounter();
  }

  /**
   * Adds one sentence (one line of SentencePiece's text input, without its newline).
   *
   * @param line the raw sentence
   * @returns whether it was used (empty, too long, or reserved-character lines are not)
   */
  addSentence(line: string): boolean {
    if (line.length === 0) return false;
    const o = this.options;
    if (line.length * 3 > o.maxSentenceLength && _utf8Length(line) > o.maxSentenceLength) {
      return false;
    }
    if (_FAST_OK.test(line) && o.removeExtraWhitespaces && o.addDummyPrefix) {
      // Fast path (no U+2581, U+2585, '<' or lone surrogate): words are the runs between spaces,
      // each with an implicit leading ▁, counted without building the normalized string.
      const used = this.#spaced.addLine(line);
      if (used) this.#sentences++;
      return used;
    }
    if (line.includes("\u2585")) return false;
    const norm = normalizeIdentity(line, o);
    if (norm.length === 0) return false;
    this.#sentences++;
    const words = this.#words;
    for (const w of splitIntoWords(norm, this.options.allowWhitespaceOnlyPieces)) {
      words.set(w, (words.get(w) ?? 0) + 1);
    }
    return true;
  }

  /**
   * Adds every line of `text` (split on `\n`, like a SentencePiece text corpus).
   *
   * @param text one or more lines
   * @returns the number of sentences used
   */
  addText(text: string): number {
    let n = 0, start = 0;
    for (;;) {
      const end = text.indexOf("\n", start);
      if (this.addSentence(end < 0 ? text.slice(start) : text.slice(start, end))) n++;
      if (end < 0) return n;
      start = end + 1;
    }
  }

  /**
   * Learns the vocabulary from the sentences added.
   *
   * @param onProgress called every 100 merges with (merges done, merges wanted)
   * @returns exactly `vocabSize` pieces
   * @throws {RangeError} when the alphabet does not fit in `vocabSize`, or the text has too few
   *   distinct pairs to learn that many merges
   */
  train(onProgress?: (done: number, total: number) => void): BpeVocab {
    const o = this.options;
    this.#fold();
    const words = [...this.#words];
    if (words.length === 0) throw new RangeError("Cannot train vocabulary: no sentences");

    // Alphabet: characters by descending count, then ascending code point.
    const charCount = new Map<number, number>();
    let allChars = 0;
    for (const [w, c] of words) {
      for (const ch of w) {
        const cp = ch.codePointAt(0)!;
        if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff)) continue;
        charCount.set(cp, (charCount.get(cp) ?? 0) + c);
        allChars += c;
      }
    }
    const sortedChars = [...charCount].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const required: [number, number][] = [];
    let acc = 0;
    for (const [cp, c] of sortedChars) {
      if (Math.fround(acc / allChars) >= Math.fround(o.characterCoverage)) break;
      acc += c;
      if (cp === TAB) continue;
      required.push([cp, c]);
    }
    const numMeta = 3 + (o.byteFallback ? 256 : 0);
    const numMerges = o.vocabSize - numMeta - required.length;
    if (numMerges < 0) {
      throw new RangeError(
        `Cannot train vocabulary: vocabSize ${o.vocabSize} is smaller than the ${numMeta} meta ` +
          `pieces plus ${required.length} required characters`,
      );
    }

    const merges = _learnMerges(words, required, numMerges, o, onProgress);

    const pieces: SentencePiece[] = [
      { piece: "<unk>", score: 0, type: PieceType.UNKNOWN },
      { piece: "<s>", score: 0, type: PieceType.CONTROL },
      { piece: "</s>", score: 0, type: PieceType.CONTROL },
    ];
    if (o.byteFallback) {
      for (let b = 0; b < 256; b++) {
        const hex = b.toString(16).toUpperCase().padStart(2, "0");
        pieces.push({ piece: `<0x${hex}>`, score: 0, type: PieceType.BYTE });
      }
    }
    let score = 0;
    for (const m of merges) pieces.push({ piece: m, score: -score++, type: PieceType.NORMAL });
    for (const [cp] of required) {
      pieces.push({ piece: String.fromCodePoint(cp), score: -score++, type: PieceType.NORMAL });
    }
    return {
      pieces,
      numMerges: merges.length,
      numChars: required.length,
      numSentences: this.#sentences,
      numWords: words.length,
      options: { ...o },
    };
  }
}

/**
 * Counts the space-separated words of lines without allocating a string per occurrence: an
 * open-addressing table keyed by an FNV-1a hash computed while scanning for spaces, compared
 * in place with `startsWith`.
 */
class _WordCounter {
  keys: string[] = [];
  counts: number[] = [];
  #hashes: number[] = [];
  #table = new Int32Array(1 << 12).fill(-1);
  #mask = (1 << 12) - 1;

  /** Counts the words of `s`; returns whether it had any. */
  addLine(s: string): boolean {
    let h = 0x811c9dc5, a = 0, any = false;
    const n = s.length;
    for (let i = 0; i <= n; i++) {
      const c = i < n ? s.charCodeAt(i) : 0x20;
      if (c === 0x20) {
        if (i > a) {
          this.#put(s, a, i, h);
          any = true;
        }
        a = i + 1;
        h = 0x811c9dc5;
      } else h = Math.imul(h ^ c, 0x01000193);
    }
    return any;
  }

  #put(s: string, a: number, b: number, h: number): void {
    const len = b - a;
    let slot = h & this.#mask;
    for (;;) {
      const idx = this.#table[slot];
      if (idx < 0) break;
      if (this.#hashes[idx] === h) {
        const k = this.keys[idx];
        if (k.length === len && s.startsWith(k, a)) {
          this.counts[idx]++;
          return;
        }
      }
      slot = (slot + 1) & this.#mask;
    }
    this.#table[slot] = this.keys.length;
    this.keys.push(s.slice(a, b));
    this.counts.push(1);
    this.#hashes.push(h);
    if (this.keys.length * 2 > this.#mask) {
      const size = (this.#mask + 1) * 2;
      this.#table = new Int32Array(size).fill(-1);
      this.#mask = size - 1;
      for (let i = 0; i < this.keys.length; i++) {
        let j = this.#hashes[i] & this.#mask;
        while (this.#table[j] >= 0) j = (j + 1) & this.#mask;
        this.#table[j] = i;
      }
    }
  }
}

/**
 * SentencePiece's `identity` normalization of one sentence: optionally drops leading and
 * trailing spaces and collapses runs of spaces, writes spaces as `▁` with one `▁` prepended, and
 * turns meta-piece strings (`<unk>`, `<s>`, `</s>`, `<0xNN>`) into a tab as the trainer does.
 *
 * @param line raw sentence
 * @param opts `removeExtraWhitespaces` and `addDummyPrefix` (both default true)
 * @returns the normalized sentence ("" when nothing is left)
 * @example
 * ```ts
 * normalizeIdentity("  Hi  there ", {}); // "▁Hi▁there"
 * ```
 */
export function normalizeIdentity(
  line: string,
  opts: { removeExtraWhitespaces?: boolean; addDummyPrefix?: boolean },
): string {
  const removeExtra = opts.removeExtraWhitespaces ?? true;
  const dummy = opts.addDummyPrefix ?? true;
  let s = line.isWellFormed() ? line : line.toWellFormed();
  if (removeExtra) {
    s = s.replace(/^ +| +$/g, "").replace(/ {2,}/g, " ");
    if (s.length === 0) return "";
  }
  s = (dummy ? WS_STR : "") + s.replaceAll(" ", WS_STR);
  if (removeExtra) {
    let end = s.length;
    while (end > 0 && s.charCodeAt(end - 1) === WS) end--;
    s = s.slice(0, end);
  }
  if (s.includes("<")) s = s.replace(META_RE, "\t");
  return s;
}

/**
 * SentencePiece's `SplitIntoWords`: a new word starts at every `▁`; with
 * `allowWhitespaceOnlyPieces` a run of `▁` starts only one word.
 *
 * @param text a normalized sentence
 * @param allowWhitespaceOnlyPieces keep runs of `▁` together
 * @returns the words, in order
 * @example
 * ```ts
 * splitIntoWords("▁a▁▁b", true); // ["▁a", "▁▁b"]
 * ```
 */
export function splitIntoWords(text: string, allowWhitespaceOnlyPieces: boolean): string[] {
  const out: string[] = [];
  let start = 0, inWs = false;
  for (let i = 0; i < text.length; i++) {
    const isWs = text.charCodeAt(i) === WS;
    if (i > 0 && isWs && (!inWs || !allowWhitespaceOnlyPieces)) {
      out.push(text.slice(start, i));
      start = i;
    }
    if (i === 0 || isWs) inWs = true;
    if (!isWs) inWs = false;
  }
  if (text.length > 0) out.push(text.slice(start));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Piece validity (SentencePiece's TrainerInterface::IsValidSentencePiece)

const _SCRIPTS = [
  "Latin",
  "Common",
  "Inherited",
  "Greek",
  "Cyrillic",
  "Han",
  "Hiragana",
  "Katakana",
  "Hangul",
  "Arabic",
  "Hebrew",
  "Thai",
  "Devanagari",
  "Armenian",
  "Georgian",
  "Bengali",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Gujarati",
  "Gurmukhi",
  "Oriya",
  "Sinhala",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Khmer",
  "Ethiopic",
  "Cherokee",
  "Mongolian",
  "Bopomofo",
  "Yi",
  "Syriac",
  "Thaana",
  "Nko",
  "Tifinagh",
  "Runic",
  "Ogham",
  "Braille",
  "Canadian_Aboriginal",
  "Coptic",
  "Glagolitic",
  "Gothic",
  "Javanese",
  "Balinese",
  "Sundanese",
  "Tagalog",
  "Vai",
  "Bamum",
  "Adlam",
  "Ahom",
  "Anatolian_Hieroglyphs",
  "Avestan",
  "Bassa_Vah",
  "Batak",
  "Bhaiksuki",
  "Brahmi",
  "Buginese",
  "Buhid",
  "Carian",
  "Caucasian_Albanian",
  "Chakma",
  "Cham",
  "Chorasmian",
  "Cuneiform",
  "Cypriot",
  "Cypro_Minoan",
  "Deseret",
  "Dives_Akuru",
  "Dogra",
  "Duployan",
  "Egyptian_Hieroglyphs",
  "Elbasan",
  "Elymaic",
  "Grantha",
  "Gunjala_Gondi",
  "Hanifi_Rohingya",
  "Hanunoo",
  "Hatran",
  "Imperial_Aramaic",
  "Inscriptional_Pahlavi",
  "Inscriptional_Parthian",
  "Kaithi",
  "Kawi",
  "Kayah_Li",
  "Kharoshthi",
  "Khitan_Small_Script",
  "Khojki",
  "Khudawadi",
  "Lepcha",
  "Limbu",
  "Linear_A",
  "Linear_B",
  "Lisu",
  "Lycian",
  "Lydian",
  "Mahajani",
  "Makasar",
  "Mandaic",
  "Manichaean",
  "Marchen",
  "Masaram_Gondi",
  "Medefaidrin",
  "Meetei_Mayek",
  "Mende_Kikakui",
  "Meroitic_Cursive",
  "Meroitic_Hieroglyphs",
  "Miao",
  "Modi",
  "Mro",
  "Multani",
  "Nabataean",
  "Nag_Mundari",
  "Nandinagari",
  "New_Tai_Lue",
  "Newa",
  "Nushu",
  "Nyiakeng_Puachue_Hmong",
  "Ol_Chiki",
  "Old_Hungarian",
  "Old_Italic",
  "Old_North_Arabian",
  "Old_Permic",
  "Old_Persian",
  "Old_Sogdian",
  "Old_South_Arabian",
  "Old_Turkic",
  "Old_Uyghur",
  "Osage",
  "Osmanya",
  "Pahawh_Hmong",
  "Palmyrene",
  "Pau_Cin_Hau",
  "Phags_Pa",
  "Phoenician",
  "Psalter_Pahlavi",
  "Rejang",
  "Samaritan",
  "Saurashtra",
  "Sharada",
  "Shavian",
  "Siddham",
  "SignWriting",
  "Sogdian",
  "Sora_Sompeng",
  "Soyombo",
  "Syloti_Nagri",
  "Tagbanwa",
  "Tai_Le",
  "Tai_Tham",
  "Tai_Viet",
  "Takri",
  "Tangsa",
  "Tangut",
  "Tirhuta",
  "Toto",
  "Ugaritic",
  "Vithkuqi",
  "Wancho",
  "Warang_Citi",
  "Yezidi",
  "Zanabazar_Square",
];
let _scriptRes: [number, RegExp][] | null = null;
const _scriptCache = new Map<number, number>();
const _COMMON = 1, _INHERITED = 2, _HAN = 5, _HIRAGANA = 6, _KATAKANA = 7;

/** Index into `_SCRIPTS` of a code point's Unicode script (unassigned -> Common). */
function _script(cp: number): number {
  if (cp < 0x80) {
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? 0 : _COMMON;
  }
  let s = _scriptCache.get(cp);
  if (s !== undefined) return s;
  if (_scriptRes === null) {
    _scriptRes = [];
    for (let i = 0; i < _SCRIPTS.length; i++) {
      try {
        _scriptRes.push([i, new RegExp(`^\\p{Script=${_SCRIPTS[i]}}$`, "u")]);
      } catch {
        // a script this engine's Unicode version does not know: its characters read as Common
      }
    }
  }
  const ch = String.fromCodePoint(cp);
  s = _COMMON;
  for (const [i, re] of _scriptRes) {
    if (re.test(ch)) {
      s = i;
      break;
    }
  }
  _scriptCache.set(cp, s);
  return s;
}

function _isDigit(cp: number): boolean {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0xff10 && cp <= 0xff19);
}

/** Whether `cps` may be a piece under SentencePiece's rules (split_by_whitespace = true). */
function _isValidPiece(cps: number[], o: Required<BpeTrainerOptions>): boolean {
  const n = cps.length;
  if (n === 0 || n > o.maxPieceLength) return false;
  let allWs = true;
  for (const c of cps) if (c !== WS) allWs = false;
  let prev = -1;
  for (let pos = 0; pos < n; pos++) {
    const c = cps[pos];
    if (c === UNK_CHAR || c === 0 || c === TAB || c === 0x20) return false;
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    if (c === WS) {
      if (!(o.allowWhitespaceOnlyPieces && allWs) && pos > 0) return false;
      continue;
    }
    let s = _script(c);
    if (s === _HIRAGANA || s === _KATAKANA || c === 0x30fc) s = _HAN;
    else if (s === _INHERITED) s = prev;
    if (o.splitDigits && _isDigit(c) && n > 1) return false;
    if (o.splitByUnicodeScript && s !== -1 && prev !== -1 && prev !== s) return false;
    prev = s;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The merge loop

/** Compares two strings by Unicode code points (UTF-8 byte order), as std::string does. */
function _cmpCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (U+10000 and up) sort after U+E000..U+FFFF in code point order.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * Every distinct adjacent pair seen, as a dense id: left and right symbol, count (per the
 * SentencePiece 0.1.97 rules), state, and the words that hold it (may list stale words).
 */
class _PairTable {
  left = new Int32Array(1 << 16);
  right = new Int32Array(1 << 16);
  count = new Float64Array(1 << 16);
  /** 0: never a piece (invalid), 1: candidate, 2: learned or dropped as a duplicate. */
  state = new Uint8Array(1 << 16);
  where: number[][] = [];
  size = 0;
  #table = new Int32Array(1 << 17).fill(-1);
  #mask = (1 << 17) - 1;

  constructor(readonly valid: (a: number, b: number) => boolean) {}

  /** The id of pair (a, b), added (with its validity) when new. */
  id(a: number, b: number): number {
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.#mask;
    for (;;) {
      const p = this.#table[slot];
      if (p < 0) break;
      if (this.left[p] === a && this.right[p] === b) return p;
      slot = (slot + 1) & this.#mask;
    }
    const p = this.size++;
    if (p === this.left.length) this.#grow();
    this.#table[slot] = p;
    this.left[p] = a;
    this.right[p] = b;
    this.state[p] = this.valid(a, b) ? 1 : 0;
    this.where.push([]);
    if (this.size * 2 > this.#mask) this.#rehash();
    return p;
  }

  #grow(): void {
    const n = this.left.length * 2;
    const l = new Int32Array(n), r = new Int32Array(n), c = new Float64Array(n);
    const st = new Uint8Array(n);
    l.set(this.left);
    r.set(this.right);
    c.set(this.count);
    st.set(this.state);
    this.left = l;
    this.right = r;
    this.count = c;
    this.state = st;
  }

  #rehash(): void {
    const size = (this.#mask + 1) * 2;
    this.#table = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    for (let p = 0; p < this.size; p++) {
      let slot = (Math.imul(this.left[p], 0x9e3779b1) ^ Math.imul(this.right[p], 0x85ebca6b)) &
        this.#mask;
      while (this.#table[slot] >= 0) slot = (slot + 1) & this.#mask;
      this.#table[slot] = p;
    }
  }
}

/**
 * The BPE merge loop over counted words.
 *
 * @returns the merged piece strings, in the order learned
 */
function _learnMerges(
  counted: [string, number][],
  required: [number, number][],
  numMerges: number,
  o: Required<BpeTrainerOptions>,
  onProgress?: (done: number, total: number) => void,
): string[] {
  // Symbols: the required characters first, then one for unknown characters, then merges.
  const symStr: string[] = [];
  const symCps: number[][] = [];
  const charId = new Map<number, number>();
  for (const [cp] of required) {
    charId.set(cp, symStr.length);
    symStr.push(String.fromCodePoint(cp));
    symCps.push([cp]);
  }
  const unkId = symStr.length;
  symStr.push(String.fromCodePoint(UNK_CHAR));
  symCps.push([UNK_CHAR]);

  const W = counted.length;
  const seqs: Int32Array[] = new Array(W);
  const freq = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    const [text, c] = counted[w];
    const ids: number[] = [];
    for (const ch of text) ids.push(charId.get(ch.codePointAt(0)!) ?? unkId);
    seqs[w] = Int32Array.from(ids);
    freq[w] = c;
  }

  // The piece rules only depend on the two symbols: checked once per pair.
  const pairs = new _PairTable((a, b) =>
    a !== unkId && b !== unkId && symCps[a].length + symCps[b].length <= o.maxPieceLength &&
    _isValidPiece(symCps[a].concat(symCps[b]), o)
  );
  const fresh: number[] = [];
  const addWord = (w: number, sign: number, newSym: number): void => {
    const s = seqs[w], c = freq[w] * sign;
    let overlap = false; // SentencePiece 0.1.97 counts "aaa" as one (a, a), not two
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1], b = s[i];
      if (a === b) {
        overlap = !overlap;
        if (!overlap) continue;
      } else overlap = false;
      const p = pairs.id(a, b);
      if (pairs.state[p] === 0) continue;
      pairs.count[p] += c;
      if (sign > 0 && (newSym < 0 || a === newSym || b === newSym)) {
        const list = pairs.where[p];
        if (list.length === 0 && newSym >= 0) fresh.push(p);
        if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  for (let w = 0; w < W; w++) addWord(w, 1, -1);

  const tie = (pa: number, pb: number): number => {
    const la = symCps[pairs.left[pa]].length + symCps[pairs.right[pa]].length;
    const lb = symCps[pairs.left[pb]].length + symCps[pairs.right[pb]].length;
    if (la !== lb) return la - lb;
    return _cmpCodePoints(
      symStr[pairs.left[pa]] + symStr[pairs.right[pa]],
      symStr[pairs.left[pb]] + symStr[pairs.right[pb]],
    );
  };
  const heap = new _PairHeap(tie);
  for (let p = 0; p < pairs.size; p++) {
    if (pairs.state[p] === 1 && pairs.count[p] > 0) heap.push(pairs.count[p], p);
  }

  const merges: string[] = [];
  const learned = new Set<string>();
  const seen = new Int32Array(W).fill(-1);
  let scratch = new Int32Array(64);
  let zero: number[] | null = null;
  while (merges.length < numMerges) {
    // Pop the best pair whose heap count is current.
    let best = -1;
    while (heap.size > 0) {
      const [c, p] = heap.pop();
      if (pairs.state[p] !== 1) continue;
      const cur = pairs.count[p];
      if (cur <= 0) continue;
      if (cur !== c) {
        heap.push(cur, p);
        continue;
      }
      best = p;
      break;
    }
    if (best < 0) {
      // No pair occurs any more. SentencePiece then keeps taking pairs that occurred once but
      // were merged away (frequency 0), shortest first, then by string.
      if (zero === null) {
        zero = [];
        for (let p = 0; p < pairs.size; p++) if (pairs.state[p] === 1) zero.push(p);
        zero.sort((x, y) => tie(y, x));
      }
      while (zero.length > 0 && best < 0) {
        const p = zero.pop()!;
        if (pairs.state[p] === 1) best = p;
      }
      if (best < 0) {
        throw new RangeError(
          `Cannot train vocabulary: vocabSize ${o.vocabSize} is too large for this text ` +
            `(only ${merges.length} of ${numMerges} merges possible)`,
        );
      }
    }
    pairs.state[best] = 2;
    const a = pairs.left[best], b = pairs.right[best];
    const str = symStr[a] + symStr[b];
    // The same string learned through another pair: SentencePiece drops this pair for good.
    if (learned.has(str)) continue;
    learned.add(str);
    merges.push(str);
    const n = symStr.length;
    symStr.push(str);
    symCps.push(symCps[a].concat(symCps[b]));

    fresh.length = 0;
    const list = pairs.where[best];
    pairs.where[best] = [];
    for (const w of list) {
      if (seen[w] === n) continue;
      seen[w] = n;
      const s = seqs[w];
      let hit = false;
      for (let i = 1; i < s.length; i++) {
        if (s[i - 1] === a && s[i] === b) {
          hit = true;
          break;
        }
      }
      if (!hit) continue;
      addWord(w, -1, -1);
      if (scratch.length < s.length) scratch = new Int32Array(s.length * 2);
      let m = 0;
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          scratch[m++] = n;
          i++;
        } else scratch[m++] = s[i];
      }
      seqs[w] = scratch.slice(0, m);
      addWord(w, 1, n);
    }
    pairs.count[best] = 0;
    for (const p of fresh) if (pairs.count[p] > 0) heap.push(pairs.count[p], p);
    if (onProgress && merges.length % 100 === 0) onProgress(merges.length, numMerges);
  }
  return merges;
}

/** A binary max-heap of (count, pair id); ties broken by `tie(idA, idB) < 0` first. */
class _PairHeap {
  #c = new Float64Array(1024);
  #k = new Float64Array(1024);
  size = 0;
  constructor(readonly tie: (a: number, b: number) => number) {}

  #better(i: number, j: number): boolean {
    const ci = this.#c[i], cj = this.#c[j];
    if (ci !== cj) return ci > cj;
    return this.tie(this.#k[i], this.#k[j]) < 0;
  }

  #swap(i: number, j: number): void {
    const c = this.#c[i], k = this.#k[i];
    this.#c[i] = this.#c[j];
    this.#k[i] = this.#k[j];
    this.#c[j] = c;
    this.#k[j] = k;
  }

  push(count: number, key: number): void {
    if (this.size === this.#c.length) {
      const c = new Float64Array(this.size * 2), k = new Float64Array(this.size * 2);
      c.set(this.#c);
      k.set(this.#k);
      this.#c = c;
      this.#k = k;
    }
    let i = this.size++;
    this.#c[i] = count;
    this.#k[i] = key;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#better(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.#c[0], this.#k[0]];
    const last = --this.size;
    this.#c[0] = this.#c[last];
    this.#k[0] = this.#k[last];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < last && this.#better(l, m)) m = l;
      if (r < last && this.#better(r, m)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }
}

function _utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  // A surrogate pair counted 1 + 1 extra per half = 4 bytes in all: right.
  return n;
}

// ---------------------------------------------------------------------------------------------
// ModelProto

/** Fields of the trainer spec that describe the run rather than the vocabulary. */
export interface BpeModelInfo {
  /** Corpus files, as SentencePiece's `input` (default none). */
  input?: string[];
  /** Output prefix, as SentencePiece's `model_prefix` (e.g. `data/tok4096`). */
  modelPrefix?: string;
  /** Trainer threads recorded in the spec (default `navigator.hardwareConcurrency`). */
  numThreads?: number;
}

/**
 * The `.model` contents SentencePiece would write for this vocabulary with llama2.c's
 * `train_vocab` settings: the pieces, a BPE trainer spec (`vocab_size`, `byte_fallback`,
 * `split_digits`, `allow_whitespace_only_pieces`, `character_coverage`, `unk_surface`, ...) and
 * the `identity` normalizer spec (dummy prefix, whitespace handling as trained).
 *
 * @param vocab what {@link BpeTrainer.train} returned
 * @param info file names and thread count to record
 * @returns a model ready for `encodeModelProto`
 * @example
 * ```ts
 * const bytes = encodeModelProto(bpeModelProto(vocab, { modelPrefix: "data/tok512" }));
 * ```
 */
export function bpeModelProto(vocab: BpeVocab, info: BpeModelInfo = {}): ModelProto {
  const o = vocab.options;
  const trainerSpec: TrainerSpec = {
    input: info.input ?? [],
    modelType: ModelType.BPE,
    vocabSize: o.vocabSize,
    selfTestSampleSize: 0,
    inputFormat: "text",
    characterCoverage: o.characterCoverage,
    numThreads: info.numThreads ?? navigator.hardwareConcurrency ?? 1,
    maxSentenceLength: o.maxSentenceLength,
    maxSentencepieceLength: o.maxPieceLength,
    splitByUnicodeScript: o.splitByUnicodeScript,
    splitDigits: o.splitDigits,
    allowWhitespaceOnlyPieces: o.allowWhitespaceOnlyPieces,
    byteFallback: o.byteFallback,
    unkSurface: " \\342\\201\\207 ",
  };
  if (info.modelPrefix !== undefined) trainerSpec.modelPrefix = info.modelPrefix;
  return {
    pieces: vocab.pieces.map((p) => ({ ...p })),
    trainerSpec,
    normalizerSpec: {
      name: "identity",
      precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: o.addDummyPrefix,
      removeExtraWhitespaces: o.removeExtraWhitespaces,
      escapeWhitespaces: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Training from TinyStories shards (llama2.c's `train_vocab`)

/** Options of {@link trainVocab}. */
export interface TrainVocabOptions {
  /** Vocabulary size N; writes `tok{N}.model` and `tok{N}.bin`. */
  vocabSize: number;
  /** Data directory holding `TinyStories_all_data/` (default `data`). */
  dataDir?: string;
  /** Use the first this many shards, sorted by name (default 10, as llama2.c). */
  numShards?: number;
  /** Called after each shard is read and every 100 merges. */
  onProgress?: (p: TrainVocabProgress) => void;
}

/** Progress of {@link trainVocab}. */
export interface TrainVocabProgress {
  /** `read` while counting words, `merge` while learning merges. */
  phase: "read" | "merge";
  /** Shards read so far. */
  shards: number;
  /** Shards to read. */
  totalShards: number;
  /** Stories read so far. */
  stories: number;
  /** Merges learned so far (merge phase). */
  merges: number;
  /** Merges to learn (merge phase). */
  totalMerges: number;
}

/** What {@link trainVocab} did. */
export interface TrainVocabResult {
  /** The `.model` written. */
  modelPath: string;
  /** The llama2.c `.bin` written. */
  binPath: string;
  /** The shards read. */
  shards: string[];
  /** Stories read. */
  stories: number;
  /** UTF-8 bytes of story text (stripped, newline-terminated, as llama2.c writes it). */
  textBytes: number;
  /** The vocabulary. */
  vocab: BpeVocab;
  /** The model as written. */
  model: ModelProto;
  /** Seconds spent reading and counting words. */
  readSeconds: number;
  /** Seconds spent learning merges. */
  trainSeconds: number;
}

/**
 * llama2.c's `train_vocab`: reads the `story` of every example in the first `numShards` shards
 * `DATA_DIR/TinyStories_all_data/*.json` (stripped like Python's `str.strip()`, one story per
 * line as llama2.c writes its text file), learns a BPE vocabulary of `vocabSize` pieces, and
 * writes `DATA_DIR/tok{N}.model` (SentencePiece `ModelProto`) and `DATA_DIR/tok{N}.bin`
 * (llama2.c's tokenizer format), each through a temporary file renamed at the end.
 *
 * @param opts vocabulary size, data directory, shard count, progress callback
 * @returns paths, counts, timings and the vocabulary
 * @throws {Error} when there are no shards
 * @throws {SyntaxError} on a malformed shard
 * @throws {TypeError} when an example has no string `story`
 * @throws {RangeError} when `vocabSize` does not fit the text (too small for its alphabet, or
 *   more pieces than the text can make)
 * @example
 * ```ts
 * const r = await trainVocab({ vocabSize: 4096, dataDir: "data", numShards: 10 });
 * console.log(r.modelPath); // data/tok4096.model
 * ```
 */
export async function trainVocab(opts: TrainVocabOptions): Promise<TrainVocabResult> {
  const dataDir = opts.dataDir ?? "data";
  const numShards = opts.numShards ?? 10;
  if (!Number.isInteger(numShards) || numShards < 1) {
    throw new RangeError(`Cannot train vocabulary: numShards must be >= 1, got ${numShards}`);
  }
  const trainer = new BpeTrainer({ vocabSize: opts.vocabSize });
  const dir = join(dataDir, TINYSTORIES_DIR);
  const all: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if ((e.isFile || e.isSymlink) && e.name.endsWith(".json")) all.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (all.length === 0) {
    throw new Error(
      `Cannot train vocabulary: no .json shards in ${dir} ` +
        `(run: deno run -A main.ts download --data-dir ${dataDir})`,
    );
  }
  const shards = all.sort().slice(0, numShards);
  const progress: TrainVocabProgress = {
    phase: "read",
    shards: 0,
    totalShards: shards.length,
    stories: 0,
    merges: 0,
    totalMerges: 0,
  };
  const t0 = performance.now();
  let textBytes = 0;
  for (const path of shards) {
    using file = await Deno.open(path, { read: true });
    let index = 0;
    try {
      for await (const ex of file.readable.pipeThrough(new JsonArrayStream())) {
        const story = ex !== null && typeof ex === "object" && !Array.isArray(ex)
          ? (ex as Record<string, unknown>).story
          : undefined;
        if (typeof story !== "string") {
          throw new TypeError(
            `Cannot train vocabulary: ${basename(path)} example ${index} has no string "story"`,
          );
        }
        const text = pyStrip(story);
        textBytes += _utf8Length(text) + 1;
        trainer.addText(text);
        index++;
      }
    } catch (e) {
      if (e instanceof JsonArraySyntaxError) {
        throw new SyntaxError(
          `Cannot train vocabulary: invalid JSON in ${basename(path)} at example ${e.index} ` +
            `(byte ${e.offset}): ${e.detail}`,
        );
      }
      throw e;
    }
    progress.shards++;
    progress.stories += index;
    opts.onProgress?.({ ...progress });
  }
  const t1 = performance.now();
  progress.phase = "merge";
  const vocab = trainer.train((done, total) => {
    progress.merges = done;
    progress.totalMerges = total;
    opts.onProgress?.({ ...progress });
  });
  const t2 = performance.now();

  const prefix = join(dataDir, `tok${opts.vocabSize}`);
  const model = bpeModelProto(vocab, { input: shards, modelPrefix: prefix });
  const modelPath = prefix + ".model", binPath = prefix + ".bin";
  const bin = Tokenizer.fromModelProto(model).toLlama2cBin();
  await writeFileAtomic(modelPath, encodeModelProto(model));
  await writeFileAtomic(binPath, bin);
  return {
    modelPath,
    binPath,
    shards,
    stories: progress.stories,
    textBytes,
    vocab,
    model,
    readSeconds: (t1 - t0) / 1000,
    trainSeconds: (t2 - t1) / 1000,
  };
}
