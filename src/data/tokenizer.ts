/**
 * An exact re-implementation of SentencePiece's BPE encoder and decoder (the Llama 2 tokenizer)
 * that also reads llama2.c's `tokenizer.bin` (the format: src/data/tokenizer_bin.ts).
 *
 * Encoding follows SentencePiece step by step: the normalizer (identity rule: spaces become
 * U+2581, a dummy-prefix space, optional removal of extra whitespace, user-defined symbols
 * copied as is), then BPE: split into characters (user-defined symbols are single frozen
 * symbols), repeatedly merge the adjacent pair whose merged piece has the highest score (ties:
 * leftmost), resegment pieces of type UNUSED, and finally turn unknown pieces into UTF-8 byte
 * pieces `<0xNN>` (byte fallback) or merge runs of them into one `<unk>`.
 *
 * Speed: when no vocabulary piece contains a non-space character followed by U+2581 (true for
 * Llama 2), no merge can cross the start of a `▁word`, so the normalized text is split into
 * `▁*word` chunks and each distinct chunk is encoded once and cached.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tokenizer } from "./tokenizer.ts";
 *
 * const tok = await Tokenizer.load("tokenizer.model"); // Llama 2's
 * assert.deepEqual(tok.encode("Hello world"), [15043, 3186]);
 * assert.equal(tok.decode([15043, 3186]), "Hello world");
 * ```
 *
 * @module
 */
import {
  type ModelProto,
  ModelType,
  NORMALIZER_SPEC_DEFAULTS,
  parseModelProto,
  PieceType,
  type SentencePiece,
  TRAINER_SPEC_DEFAULTS,
} from "./sentencepiece_model.ts";
import { SymbolPairHeap } from "./symbol_pair_heap.ts";
import { packTokenizerBin, readTokenizerBin, tokenBinBytes } from "./tokenizer_bin.ts";

const SPACE = "\u2581";
const SPACE_CODE = 0x2581;
const CACHE_LIMIT = 1 << 16;
const CACHE_MAX_CHUNK = 64;
const PAIR_CACHE_LIMIT = 1 << 20;

const _utf8 = new TextEncoder();
const _utf8d = new TextDecoder("utf-8", { ignoreBOM: true });

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Prepend the begin-of-sentence id (default false, as `sp.encode`). */
  bos?: boolean;
  /** Append the end-of-sentence id (default false). */
  eos?: boolean;
}

/** A SentencePiece BPE tokenizer; build it with {@link Tokenizer.load} or the `from*` methods. */
export class Tokenizer {
  /** Number of pieces (ids are `0 .. vocabSize-1`). */
  readonly vocabSize: number;
  /** Id of `<s>`, or -1 when the model has none. */
  readonly bosId: number;
  /** Id of `</s>`, or -1 when the model has none. */
  readonly eosId: number;
  /** Id of `<unk>`. */
  readonly unkId: number;
  /** The model this tokenizer was built from (do not mutate). */
  readonly model: ModelProto;

  #pieces: string[];
  #types: Uint8Array;
  #scores: Float64Array;
  /** NORMAL, USER_DEFINED and UNUSED pieces: the ones BPE may produce by merging. */
  #mergeable = new Map<string, number>();
  /** Every other piece (control, unknown, byte): looked up first by `pieceToId`. */
  #reserved = new Map<string, number>();
  #byteIds = new Int32Array(256).fill(-1);
  #byteFallback: boolean;
  #addDummyPrefix: boolean;
  #removeExtra: boolean;
  #escape: boolean;
  #suffix: boolean;
  #unkSurface: string;
  /** User-defined pieces, and their distinct lengths longest first. */
  #user = new Set<string>();
  #userLens: number[] = [];
  #chunked: boolean;
  #cache = new Map<string, Int32Array>();
  #bin: Uint8Array[] | null = null;
  #hasUnused = false;
  #closed: boolean;
  #charIds = new Int32Array(0x10000).fill(-2);
  #pairs = new Map<number, number>();
  #heap = new SymbolPairHeap();
  #ids: number[] = [];
  #buf: _Scratch = _scratch(256);

  private constructor(model: ModelProto) {
    this.model = model;
    const ts = model.trainerSpec ?? {}, ns = model.normalizerSpec ?? {};
    if (model.pieces.length === 0) {
      throw new SyntaxError(
        "Cannot create tokenizer: the model has no pieces (the file is empty or truncated)",
      );
    }
    if (Object.keys(ts).length === 0) {
      // SentencePiece always writes trainer_spec after the pieces: a file cut short loses it.
      throw new SyntaxError(
        `Cannot create tokenizer: the model ends after ${model.pieces.length} pieces without ` +
          "its trainer_spec (the file is truncated)",
      );
    }
    const type = ts.modelType ?? TRAINER_SPEC_DEFAULTS.modelType;
    if (type !== ModelType.BPE) {
      throw new RangeError(
        `Cannot create tokenizer: only BPE models are supported, got model type ${
          ModelType[type] ?? type
        }`,
      );
    }
    if (ns.precompiledCharsmap && ns.precompiledCharsmap.length > 0) {
      throw new RangeError(
        `Cannot create tokenizer: normalization rule '${
          ns.name ?? "?"
        }' is not supported (only identity)`,
      );
    }
    const n = model.pieces.length;
    this.vocabSize = n;
    this.#pieces = new Array(n);
    this.#types = new Uint8Array(n);
    this.#scores = new Float64Array(n);
    let unk = -1;
    for (let i = 0; i < n; i++) {
      const p: SentencePiece = model.pieces[i];
      if (typeof p.piece !== "string" || p.piece.length === 0) {
        throw new SyntaxError(`Cannot create tokenizer: piece ${i} is empty`);
      }
      const t = p.type ?? PieceType.NORMAL;
      if (!(t >= PieceType.NORMAL && t <= PieceType.BYTE)) {
        throw new SyntaxError(`Cannot create tokenizer: piece ${i} has unknown type ${t}`);
      }
      this.#pieces[i] = p.piece;
      this.#types[i] = t;
      this.#scores[i] = p.score;
      const mergeable = t === PieceType.NORMAL || t === PieceType.USER_DEFINED ||
        t === PieceType.UNUSED;
      const map = mergeable ? this.#mergeable : this.#reserved;
      if (this.#mergeable.has(p.piece) || this.#reserved.has(p.piece)) {
        throw new SyntaxError(`Cannot create tokenizer: piece ${JSON.stringify(p.piece)} repeats`);
      }
      map.set(p.piece, i);
      if (t === PieceType.USER_DEFINED) this.#user.add(p.piece);
      if (t === PieceType.UNUSED) this.#hasUnused = true;
      if (t === PieceType.UNKNOWN && unk < 0) unk = i;
      if (t === PieceType.BYTE) {
        const m = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
        if (!m) throw new SyntaxError(`Cannot create tokenizer: bad byte piece ${p.piece}`);
        this.#byteIds[parseInt(m[1], 16)] = i;
      }
    }
    if (unk < 0) throw new SyntaxError("Cannot create tokenizer: the model has no unknown piece");
    this.unkId = unk;
    const special = (piece: string) => {
      const id = this.#reserved.get(piece) ?? -1;
      return id >= 0 && this.#types[id] === PieceType.CONTROL ? id : -1;
    };
    this.bosId = special(ts.bosPiece ?? TRAINER_SPEC_DEFAULTS.bosPiece);
    this.eosId = special(ts.eosPiece ?? TRAINER_SPEC_DEFAULTS.eosPiece);
    this.#byteFallback = ts.byteFallback ?? TRAINER_SPEC_DEFAULTS.byteFallback;
    this.#suffix = ts.treatWhitespaceAsSuffix ?? TRAINER_SPEC_DEFAULTS.treatWhitespaceAsSuffix;
    this.#unkSurface = ts.unkSurface ?? TRAINER_SPEC_DEFAULTS.unkSurface;
    this.#addDummyPrefix = ns.addDummyPrefix ?? NORMALIZER_SPEC_DEFAULTS.addDummyPrefix;
    this.#removeExtra = ns.removeExtraWhitespaces ??
      NORMALIZER_SPEC_DEFAULTS.removeExtraWhitespaces;
    this.#escape = ns.escapeWhitespaces ?? NORMALIZER_SPEC_DEFAULTS.escapeWhitespaces;
    this.#userLens = [...new Set([...this.#user].map((u) => u.length))].sort((a, b) => b - a);
    // Closed alphabet: every character of every mergeable piece is itself a mergeable piece,
    // so a symbol that is not a piece never merges (true for trained BPE vocabularies).
    this.#closed = true;
    for (const piece of this.#mergeable.keys()) {
      for (let i = 0; i < piece.length && this.#closed;) {
        const len = _charLen(piece, i);
        if (!this.#mergeable.has(piece.slice(i, i + len))) this.#closed = false;
        i += len;
      }
      if (!this.#closed) break;
    }
    // Chunking is exact when no piece that BPE can form or match spans "x▁" (x not ▁).
    this.#chunked = this.#escape;
    for (const piece of this.#mergeable.keys()) {
      if (_spansWordStart(piece)) {
        this.#chunked = false;
        break;
      }
    }
  }

  /**
   * A tokenizer from a parsed `.model` or its bytes.
   *
   * @throws {SyntaxError} on a malformed model (empty or repeated pieces, no `<unk>`)
   * @throws {RangeError} for a non-BPE model or a normalization rule other than identity
   */
  static fromModelProto(model: ModelProto | Uint8Array): Tokenizer {
    return new Tokenizer(model instanceof Uint8Array ? parseModelProto(model) : model);
  }

  /**
   * A tokenizer from llama2.c's `tokenizer.bin` (read by {@link readTokenizerBin}, which says
   * how piece types are inferred). A file without the `<unk>`, `\n<s>\n` and `\n</s>\n` pieces
   * gets run.c's fixed ids instead: unknown 0, BOS 1, EOS 2.
   *
   * @param bytes the file's bytes
   * @param vocabSize number of tokens to read (default: every token up to the end of the file)
   * @throws {SyntaxError} when the file is truncated or a token is not UTF-8
   */
  static fromLlama2cBin(bytes: Uint8Array, vocabSize?: number): Tokenizer {
    return new Tokenizer(_withRunCIds(readTokenizerBin(bytes, vocabSize)));
  }

  /**
   * Loads a SentencePiece `.model` or a llama2.c `.bin` (chosen by extension; other names are
   * sniffed: a `.model` starts with the protobuf tag byte 0x0A).
   *
   * @throws {Error} (its class kept: SyntaxError for a malformed file, the OS error when it
   *   cannot be read) with a one-line message naming `path`
   */
  static async load(path: string): Promise<Tokenizer> {
    try {
      const bytes = await Deno.readFile(path);
      const isBin = path.endsWith(".bin") ||
        (!path.endsWith(".model") && bytes.length > 0 && bytes[0] !== 0x0a);
      return isBin ? Tokenizer.fromLlama2cBin(bytes) : Tokenizer.fromModelProto(bytes);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      let why = e.message.split("\n")[0].replace(/^Cannot [^:]*: /, "");
      if (e instanceof Deno.errors.NotFound) why = "it does not exist";
      else if (e instanceof Deno.errors.IsADirectory) why = "it is a directory";
      e.message = `Cannot load tokenizer ${path}: ${why}`;
      throw e;
    }
  }

  /** The piece text of an id (spaces as U+2581). */
  idToPiece(id: number): string {
    this.#checkId(id, "look up piece");
    return this.#pieces[id];
  }

  /** The score of an id. */
  score(id: number): number {
    this.#checkId(id, "look up score");
    return this.#scores[id];
  }

  /** The id of a piece, or the unknown id (as `sp.piece_to_id`). */
  pieceToId(piece: string): number {
    return this.#reserved.get(piece) ?? this.#mergeable.get(piece) ?? this.unkId;
  }

  /**
   * Encodes text exactly as SentencePiece's `encode` (`out_type=int`).
   *
   * @param text the text
   * @param opts add BOS and/or EOS
   * @returns the ids
   * @throws {TypeError} when `text` is not a string
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tokenizer } from "./tokenizer.ts";
   *
   * const tok = await Tokenizer.load("tokenizer.model"); // Llama 2's
   * assert.deepEqual(tok.encode("Hello world", { bos: true }), [1, 15043, 3186]);
   * ```
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") {
      throw new TypeError(`Cannot encode: expected a string, got ${typeof text}`);
    }
    const out: number[] = [];
    if (opts.bos) {
      if (this.bosId < 0) throw new RangeError("Cannot encode: the model has no <s> piece");
      out.push(this.bosId);
    }
    const norm = this.normalize(text);
    if (norm.length > 0) {
      if (this.#chunked) this.#encodeChunked(norm, out);
      else this.#emit(this.#bpe(norm), out);
    }
    if (opts.eos) {
      if (this.eosId < 0) throw new RangeError("Cannot encode: the model has no </s> piece");
      out.push(this.eosId);
    }
    return out;
  }

  /**
   * SentencePiece's normalizer for the identity rule: what BPE sees.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tokenizer } from "./tokenizer.ts";
   *
   * const tok = await Tokenizer.load("tokenizer.model"); // Llama 2's
   * assert.equal(tok.normalize("a  b"), "▁a▁▁b");
   * ```
   */
  normalize(text: string): string {
    if (text.length === 0) return "";
    const ws = this.#escape ? SPACE : " ";
    if (!this.#removeExtra && this.#user.size === 0) {
      const body = this.#escape ? text.replaceAll(" ", SPACE) : text;
      if (!this.#addDummyPrefix) return body;
      return this.#suffix ? body + ws : ws + body;
    }
    // General path: units are user-defined symbols (longest match) or single code points.
    let i = 0;
    if (this.#removeExtra) {
      while (i < text.length) {
        const len = this.#unitLen(text, i);
        if (len !== 1 || text.charCodeAt(i) !== 0x20) break;
        i += len;
      }
    }
    if (i >= text.length) return "";
    let out = !this.#suffix && this.#addDummyPrefix ? ws : "";
    let prevSpace = this.#removeExtra;
    while (i < text.length) {
      const len = this.#unitLen(text, i);
      let unit = text.slice(i, i + len);
      i += len;
      if (prevSpace) {
        let k = 0;
        while (k < unit.length && unit.charCodeAt(k) === 0x20) k++;
        unit = unit.slice(k);
      }
      if (unit.length > 0) {
        out += this.#escape ? unit.replaceAll(" ", SPACE) : unit;
        prevSpace = unit.charCodeAt(unit.length - 1) === 0x20;
      }
      if (!this.#removeExtra) prevSpace = false;
    }
    if (this.#removeExtra) {
      while (out.endsWith(ws)) out = out.slice(0, out.length - ws.length);
    }
    if (this.#suffix && this.#addDummyPrefix) out += ws;
    return out;
  }

  /**
   * Decodes ids exactly as SentencePiece's `decode`: control pieces vanish, `<unk>` becomes
   * the unknown surface, runs of byte pieces are decoded as UTF-8 (each invalid byte becomes
   * U+FFFD), U+2581 becomes a space, and the dummy-prefix space of the first piece is dropped.
   *
   * @throws {RangeError} for an id outside `0 .. vocabSize-1`
   */
  decode(ids: ArrayLike<number>): string {
    let text = "";
    let isBosWs = true, bosWsSeen = false;
    const bytes: number[] = [];
    const stripFirst = this.#addDummyPrefix || this.#removeExtra;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      this.#checkId(id, "decode");
      const type = this.#types[id];
      if (type === PieceType.BYTE) {
        bytes.push(parseInt(this.#pieces[id].slice(3, 5), 16));
        continue;
      }
      if (bytes.length > 0) {
        text += _decodeBytes(bytes);
        bytes.length = 0;
      }
      if (bosWsSeen || text.length > 0) isBosWs = false;
      bosWsSeen = false;
      if (type === PieceType.CONTROL) continue;
      if (type === PieceType.UNKNOWN) {
        text += this.#unkSurface;
        continue;
      }
      let piece = this.#pieces[id];
      if (isBosWs && stripFirst && piece.startsWith(SPACE)) {
        piece = piece.slice(1);
        bosWsSeen = !this.#removeExtra;
      }
      text += piece.replaceAll(SPACE, " ");
    }
    if (bytes.length > 0) text += _decodeBytes(bytes);
    return text;
  }

  /**
   * The bytes llama2.c's `run.c` prints for `id` after `prev`: the token's `tokenizer.bin`
   * text (space for U+2581, `\n<s>\n` for BOS), without its leading space after BOS, and the
   * raw byte for `<0xNN>` pieces. Feed them to a streaming `TextDecoder` to print text.
   */
  decodePieceBytes(prev: number, id: number): Uint8Array {
    this.#checkId(id, "decode piece");
    if (this.#types[id] === PieceType.BYTE) {
      return new Uint8Array([parseInt(this.#pieces[id].slice(3, 5), 16)]);
    }
    const b = this.#binTokens()[id];
    return prev === this.bosId && b[0] === 0x20 ? b.subarray(1) : b;
  }

  /**
   * {@link decodePieceBytes} as a string, for streaming sampling output like `run.c`'s
   * `decode`. A byte piece that is only part of a UTF-8 character gives U+FFFD here; use
   * `decodePieceBytes` with `new TextDecoder().decode(bytes, { stream: true })` to join them.
   */
  decodePiece(prev: number, id: number): string {
    return _utf8d.decode(this.decodePieceBytes(prev, id));
  }

  /**
   * llama2.c's `tokenizer.bin`, byte-identical to its `tokenizer.py` export of the same model
   * (the format: src/data/tokenizer_bin.ts).
   */
  toLlama2cBin(): Uint8Array {
    return packTokenizerBin(this.#binTokens(), this.#scores);
  }

  // -------------------------------------------------------------------------------------------

  #checkId(id: number, action: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`Cannot ${action}: id ${id} is outside [0, ${this.vocabSize})`);
    }
  }

  #binTokens(): Uint8Array[] {
    this.#bin ??= tokenBinBytes(this.#pieces, this.bosId, this.eosId);
    return this.#bin;
  }

  /** Length (UTF-16 units) of the longest user-defined piece starting at `i`, or 0. */
  #userMatch(s: string, i: number): number {
    if (this.#user.size === 0) return 0;
    for (const len of this.#userLens) {
      if (i + len <= s.length && this.#user.has(s.slice(i, i + len))) return len;
    }
    return 0;
  }

  /** Length (UTF-16 units) of the normalizer/BPE unit at `i`: a user symbol or a code point. */
  #unitLen(s: string, i: number): number {
    const u = this.#userMatch(s, i);
    return u > 0 ? u : _charLen(s, i);
  }

  #encodeChunked(norm: string, out: number[]): void {
    const n = norm.length;
    let start = 0;
    let prevUnk = false;
    for (let i = 1; i <= n; i++) {
      if (i < n && !(norm.charCodeAt(i) === SPACE_CODE && norm.charCodeAt(i - 1) !== SPACE_CODE)) {
        continue;
      }
      const chunk = norm.slice(start, i);
      start = i;
      let ids = this.#cache.get(chunk);
      if (ids === undefined) {
        ids = this.#bpe(chunk);
        if (chunk.length <= CACHE_MAX_CHUNK) {
          if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
          this.#cache.set(chunk, ids);
        }
      }
      if (this.#byteFallback) {
        for (let k = 0; k < ids.length; k++) out.push(ids[k]);
      } else prevUnk = this.#mergeUnk(ids, out, prevUnk);
    }
  }

  #emit(ids: Int32Array, out: number[]): void {
    if (this.#byteFallback) { for (let k = 0; k < ids.length; k++) out.push(ids[k]); }
    else this.#mergeUnk(ids, out, false);
  }

  /** Without byte fallback, SentencePiece merges each run of unknown pieces into one. */
  #mergeUnk(ids: Int32Array, out: number[], prevUnk: boolean): boolean {
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      const unk = this.#types[id] === PieceType.UNKNOWN;
      if (!(unk && prevUnk)) out.push(id);
      prevUnk = unk;
    }
    return prevUnk;
  }

  /**
   * SentencePiece's `bpe::Model::Encode` on normalized text, then byte fallback: ids in order
   * (unknown pieces are the unknown id when byte fallback is off).
   */
  #bpe(s: string): Int32Array {
    // Symbols are [start, end) UTF-16 ranges of `s` in a linked list; `sid` is the symbol's
    // mergeable piece id (-1 when its text is not one), so pairs are looked up by id.
    const b = this.#scratch(s.length);
    const { st, en, sid, prev, next, freeze } = b;
    let n = 0;
    const hasUser = this.#user.size > 0;
    for (let i = 0; i < s.length;) {
      const u = hasUser ? this.#userMatch(s, i) : 0;
      const len = u > 0 ? u : _charLen(s, i);
      st[n] = i;
      en[n] = i + len;
      freeze[n] = u > 0 ? 1 : 0;
      sid[n] = len === 1
        ? this.#charId(s.charCodeAt(i))
        : this.#mergeable.get(s.slice(i, i + len)) ?? -1;
      prev[n] = n - 1;
      next[n] = i + len < s.length ? n + 1 : -1;
      n++;
      i += len;
    }
    const heap = this.#heap;
    heap.size = 0;
    const revMerge = this.#hasUnused ? new Map<string, [string, string]>() : null;
    const addPair = (l: number, r: number) => {
      if (l < 0 || r < 0 || freeze[l] || freeze[r]) return;
      const id = this.#pairId(sid[l], sid[r], s, st[l], en[r]);
      if (id < 0) return;
      heap.push(this.#scores[id], l, r, en[r] - st[l], id);
      if (revMerge && this.#types[id] === PieceType.UNUSED) {
        revMerge.set(s.slice(st[l], en[r]), [s.slice(st[l], en[l]), s.slice(st[r], en[r])]);
      }
    };
    for (let i = 1; i < n; i++) addPair(i - 1, i);
    while (heap.size > 0) {
      const l = heap.left[0], r = heap.right[0], size = heap.sz[0], id = heap.id[0];
      heap.pop();
      if (en[l] === st[l] || en[r] === st[r] || (en[l] - st[l]) + (en[r] - st[r]) !== size) {
        continue; // stale: one side was merged away since this pair was queued
      }
      en[l] = en[r];
      sid[l] = id;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      en[r] = st[r];
      addPair(prev[l], l);
      addPair(l, next[l]);
    }
    const ids = this.#ids;
    ids.length = 0;
    const resegment = (w: string) => {
      const id = this.pieceToId(w);
      if (revMerge && this.#types[id] === PieceType.UNUSED) {
        const p = revMerge.get(w);
        if (p) {
          resegment(p[0]);
          resegment(p[1]);
          return;
        }
      }
      this.#pushId(id, w, ids);
    };
    for (let i = 0; i >= 0 && n > 0; i = next[i]) {
      const id = sid[i];
      if (revMerge || id < 0) resegment(s.slice(st[i], en[i]));
      else ids.push(id);
    }
    return new Int32Array(ids);
  }

  /** Appends `id` for symbol text `w`, or its UTF-8 byte pieces when it is unknown. */
  #pushId(id: number, w: string, ids: number[]): void {
    if (this.#byteFallback && this.#types[id] === PieceType.UNKNOWN) {
      for (const byte of _utf8.encode(w)) {
        const bid = this.#byteIds[byte];
        ids.push(bid >= 0 ? bid : this.unkId);
      }
      return;
    }
    ids.push(id);
  }

  /** Mergeable id of a one-unit character (-1 when it is not a mergeable piece), cached. */
  #charId(c: number): number {
    let id = this.#charIds[c];
    if (id === -2) {
      id = this.#mergeable.get(String.fromCharCode(c)) ?? -1;
      this.#charIds[c] = id;
    }
    return id;
  }

  /** Mergeable id of the concatenation of two symbols (-1 when none), cached by id pair. */
  #pairId(a: number, b: number, s: string, from: number, to: number): number {
    if (a < 0 || b < 0) {
      // A symbol that is not a piece can only be part of a piece with a non-piece character.
      return this.#closed ? -1 : this.#mergeable.get(s.slice(from, to)) ?? -1;
    }
    const key = a * this.vocabSize + b;
    let id = this.#pairs.get(key);
    if (id === undefined) {
      id = this.#mergeable.get(this.#pieces[a] + this.#pieces[b]) ?? -1;
      if (this.#pairs.size >= PAIR_CACHE_LIMIT) this.#pairs.clear();
      this.#pairs.set(key, id);
    }
    return id;
  }

  #scratch(n: number): _Scratch {
    if (this.#buf.st.length < n) {
      let cap = this.#buf.st.length;
      while (cap < n) cap *= 2;
      this.#buf = _scratch(cap);
    }
    return this.#buf;
  }
}

interface _Scratch {
  st: Int32Array;
  en: Int32Array;
  sid: Int32Array;
  prev: Int32Array;
  next: Int32Array;
  freeze: Uint8Array;
}

function _scratch(cap: number): _Scratch {
  return {
    st: new Int32Array(cap),
    en: new Int32Array(cap),
    sid: new Int32Array(cap),
    prev: new Int32Array(cap),
    next: new Int32Array(cap),
    freeze: new Uint8Array(cap),
  };
}

/** Length (UTF-16 units) of the code point at `i`: 2 for a surrogate pair, else 1. */
function _charLen(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d < 0xe000) return 2;
  }
  return 1;
}

/** Whether `piece` contains a non-U+2581 character directly followed by U+2581. */
function _spansWordStart(piece: string): boolean {
  for (let i = 1; i < piece.length; i++) {
    if (piece.charCodeAt(i) === SPACE_CODE && piece.charCodeAt(i - 1) !== SPACE_CODE) return true;
  }
  return false;
}

/**
 * SentencePiece's byte-piece decoding: valid UTF-8 characters are kept, every byte that does
 * not start a valid character becomes U+FFFD.
 */
function _decodeBytes(b: number[]): string {
  let s = "";
  let i = 0;
  const cont = (k: number) => k < b.length && (b[k] & 0xc0) === 0x80;
  while (i < b.length) {
    const c = b[i];
    let cp = -1, len = 1;
    if (c < 0x80) cp = c;
    else if ((c & 0xe0) === 0xc0 && cont(i + 1)) {
      cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      len = 2;
      if (cp < 0x80) cp = -1;
    } else if ((c & 0xf0) === 0xe0 && cont(i + 1) && cont(i + 2)) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
      len = 3;
      if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = -1;
    } else if ((c & 0xf8) === 0xf0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) |
        (b[i + 3] & 0x3f);
      len = 4;
      if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
    }
    if (cp < 0) {
      s += "\ufffd";
      i += 1;
    } else {
      s += String.fromCodePoint(cp);
      i += len;
    }
  }
  return s;
}

/**
 * run.c assumes `<unk>` = 0, BOS = 1, EOS = 2 whatever the pieces say: a tokenizer.bin without
 * the control pieces gets those ids (as long as they are ordinary pieces).
 */
function _withRunCIds(model: ModelProto): ModelProto {
  const ts = model.trainerSpec;
  const pieces = model.pieces;
  const assume = (id: number | undefined, at: number, type: PieceType): number => {
    if (id !== undefined && id >= 0) return id;
    if (at >= pieces.length || pieces[at].type !== PieceType.NORMAL) return -1;
    pieces[at] = { ...pieces[at], type };
    return at;
  };
  const bosId = assume(ts.bosId, 1, PieceType.CONTROL);
  const eosId = assume(ts.eosId, 2, PieceType.CONTROL);
  const unkId = assume(ts.unkId, 0, PieceType.UNKNOWN);
  return {
    ...model,
    trainerSpec: {
      ...ts,
      unkId,
      bosId,
      eosId,
      ...(bosId >= 0 ? { bosPiece: pieces[bosId].piece } : {}),
      ...(eosId >= 0 ? { eosPiece: pieces[eosId].piece } : {}),
    },
  };
}
