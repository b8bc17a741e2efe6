/**
 * The priority queue of {@link SymbolPairHeap}, used by the tokenizer's BPE encoder
 * (src/data/tokenizer.ts): candidate merges of adjacent symbols, best first.
 *
 * @module
 */

/**
 * A binary max-heap of symbol pairs: higher score first, then smaller left index. Struct of
 * arrays (score, left, right, size, id per entry), grown by doubling.
 */
export class SymbolPairHeap {
  /** Score of each entry (the merged piece's). */
  score = new Float64Array(64);
  /** Left symbol index of each entry. */
  left = new Int32Array(64);
  /** Right symbol index of each entry. */
  right = new Int32Array(64);
  /** Text length the pair spans when queued (a different length when popped: stale). */
  sz = new Int32Array(64);
  /** Piece id of each entry's merge. */
  id = new Int32Array(64);
  /** Entries in the heap; entry 0 is the top. */
  size = 0;

  #less(a: number, b: number): boolean {
    // true when entry a has lower priority than entry b
    const sa = this.score[a], sb = this.score[b];
    return sa < sb || (sa === sb && this.left[a] > this.left[b]);
  }

  #swap(a: number, b: number): void {
    let t = this.score[a];
    this.score[a] = this.score[b];
    this.score[b] = t;
    t = this.left[a];
    this.left[a] = this.left[b];
    this.left[b] = t;
    t = this.right[a];
    this.right[a] = this.right[b];
    this.right[b] = t;
    t = this.sz[a];
    this.sz[a] = this.sz[b];
    this.sz[b] = t;
    t = this.id[a];
    this.id[a] = this.id[b];
    this.id[b] = t;
  }

  /** Adds an entry. */
  push(score: number, left: number, right: number, size: number, id: number): void {
    if (this.size === this.score.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as { new (n: number): T })(a.length * 2);
        b.set(a);
        return b;
      };
      this.score = grow(this.score);
      this.left = grow(this.left);
      this.right = grow(this.right);
      this.sz = grow(this.sz);
      this.id = grow(this.id);
    }
    let i = this.size++;
    this.score[i] = score;
    this.left[i] = left;
    this.right[i] = right;
    this.sz[i] = size;
    this.id[i] = id;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(p, i)) break;
      this.#swap(p, i);
      i = p;
    }
  }

  /** Removes the top entry (read it from index 0 first). */
  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    this.#swap(0, last);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < last && this.#less(m, l)) m = l;
      if (r < last && this.#less(m, r)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
  }
}
