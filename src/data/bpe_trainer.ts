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
 * Files: this one counts words and assembles the vocabulary; src/data/bpe_merge.ts has the piece
 * rules and the merge loop, src/data/unicode_script.ts the script table, and
 * src/data/train_vocab.ts turns a vocabulary into a `.model` and a `tokenizer.bin`
 * (`bpeModelProto`, `trainVocab`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpeTrainer } from "./bpe_trainer.ts";
 *
 * const trainer = new BpeTrainer({ vocabSize: 280 });
 * trainer.addText("Once upon a time, there was a cat.\nThe cat was happy.");
 * const vocab = trainer.train();
 * assert.equal(vocab.pieces.length, 280);
 * ```
 *
 * @module
 */
import { learnMerges, TAB, WS } from "./bpe_merge.ts";
import { PieceType, type SentencePiece } from "./sentencepiece_model.ts";

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

const WS_STR = "\u2581";
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
 * import assert from "node:assert/strict";
 * import { BpeTrainer } from "./bpe_trainer.ts";
 *
 * const text = "the cat sat on the mat\nthe cat ate the rat";
 * const t = new BpeTrainer({ vocabSize: 300 });
 * for (const line of text.split("\n")) t.addSentence(line);
 * const { pieces } = t.train();
 * assert.equal(pieces.length, 300);
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
    if (line.length * 3 > o.maxSentenceLength && utf8Length(line) > o.maxSentenceLength) {
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

    const merges = learnMerges(words, required, numMerges, o, onProgress);

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
 * import assert from "node:assert/strict";
 * import { normalizeIdentity } from "./bpe_trainer.ts";
 *
 * assert.equal(normalizeIdentity("  Hi  there ", {}), "▁Hi▁there");
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
 * import assert from "node:assert/strict";
 * import { splitIntoWords } from "./bpe_trainer.ts";
 *
 * assert.deepEqual(splitIntoWords("▁a▁▁b", true), ["▁a", "▁▁b"]);
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

/** UTF-8 length in bytes of `s` (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  // A surrogate pair counted 1 + 1 extra per half = 4 bytes in all: right.
  return n;
}
