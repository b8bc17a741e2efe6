/**
 * The BPE merge loop of {@link learnMerges} (src/data/bpe_trainer.ts counts the words and calls
 * it) and the rule for which pieces may form (SentencePiece's
 * `TrainerInterface::IsValidSentencePiece`). Pair counts live in a table with the list of words
 * holding each pair; a merge rewrites only the words that hold the pair and adjusts their pair
 * counts; the best pair comes from a lazy max-heap.
 *
 * @module
 */
import {
  SCRIPT_HAN,
  SCRIPT_HIRAGANA,
  SCRIPT_INHERITED,
  SCRIPT_KATAKANA,
  unicodeScript,
} from "./unicode_script.ts";

/** U+2581 `▁`, SentencePiece's space. */
export const WS = 0x2581;
/** SentencePiece's kUNKChar U+2585: the symbol of characters outside the alphabet. */
const UNK_CHAR = 0x2585;
/** SentencePiece's boundary character (tab): never part of a piece. */
export const TAB = 0x09;

/** The trainer options the merge loop reads (`BpeTrainerOptions` with defaults filled in). */
export interface MergeOptions {
  /** Pieces to learn in all (for the error when the text runs out of pairs). */
  vocabSize: number;
  /** Longest piece in characters. */
  maxPieceLength: number;
  /** A run of `▁` may be one piece. */
  allowWhitespaceOnlyPieces: boolean;
  /** Digits never merge with anything. */
  splitDigits: boolean;
  /** A piece never mixes two Unicode scripts. */
  splitByUnicodeScript: boolean;
}

// ---------------------------------------------------------------------------------------------
// Piece validity (SentencePiece's TrainerInterface::IsValidSentencePiece)

function _isDigit(cp: number): boolean {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0xff10 && cp <= 0xff19);
}

/** Whether `cps` may be a piece under SentencePiece's rules (split_by_whitespace = true). */
function _isValidPiece(cps: number[], o: MergeOptions): boolean {
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
    let s = unicodeScript(c);
    if (s === SCRIPT_HIRAGANA || s === SCRIPT_KATAKANA || c === 0x30fc) s = SCRIPT_HAN;
    else if (s === SCRIPT_INHERITED) s = prev;
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
export function learnMerges(
  counted: [string, number][],
  required: [number, number][],
  numMerges: number,
  o: MergeOptions,
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
