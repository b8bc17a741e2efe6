/**
 * Protobuf wire format, the part the SentencePiece `ModelProto` codec
 * (src/data/sentencepiece_model.ts) needs: varints up to 64 bits, length-delimited fields,
 * skipping unknown fields (groups included).
 *
 * @module
 */

/**
 * Reads protobuf wire format from `buf[start, end)`: varints, lengths and skipped fields. Errors
 * are one-line SyntaxErrors `Cannot parse ModelProto: ... at byte N` (its only user).
 */
export class WireReader {
  /** Next byte to read. */
  pos: number;
  /**
   * @param buf the bytes
   * @param view a DataView over the same bytes
   * @param start first byte to read
   * @param end one past the last byte
   */
  constructor(
    readonly buf: Uint8Array,
    readonly view: DataView,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Throws the one-line SyntaxError for `what` at the current byte. */
  fail(what: string): never {
    throw new SyntaxError(`Cannot parse ModelProto: ${what} at byte ${this.pos}`);
  }

  /** Reads a varint as [low 32 bits, high 32 bits]. */
  varint64(): [number, number] {
    let lo = 0, hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    this.fail("varint longer than 10 bytes");
  }

  /** Reads a varint that must fit a safe integer. */
  uint(): number {
    const [lo, hi] = this.varint64();
    if (hi >= 0x200000) this.fail("integer above 2^53");
    return hi * 0x100000000 + lo;
  }

  /** Reads a length prefix that must fit in what is left. */
  length(): number {
    const n = this.uint();
    if (n > this.end - this.pos) this.fail(`length ${n} runs past the end`);
    return n;
  }

  /** Skips one field of wire type `wire` (groups included). */
  skip(wire: number, field: number): void {
    switch (wire) {
      case 0:
        this.varint64();
        return;
      case 1:
        if (this.end - this.pos < 8) this.fail("truncated fixed64");
        this.pos += 8;
        return;
      case 2: {
        const n = this.length(); // read first: `pos += f()` would use the old pos
        this.pos += n;
        return;
      }
      case 3:
        for (;;) {
          if (this.pos >= this.end) this.fail(`unterminated group ${field}`);
          const tag = this.uint();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== field) this.fail("mismatched end of group");
            return;
          }
          this.skip(tag & 7, tag >>> 3);
        }
      case 5:
        if (this.end - this.pos < 4) this.fail("truncated fixed32");
        this.pos += 4;
        return;
      default:
        this.fail(`invalid wire type ${wire}`);
    }
  }
}

/** Writes protobuf wire format into a growing buffer. */
export class WireWriter {
  /** The buffer (grown by doubling). */
  buf = new Uint8Array(1024);
  /** A DataView over `buf`. */
  view = new DataView(this.buf.buffer);
  /** Bytes written. */
  pos = 0;

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  /** Writes a varint of the 64-bit value hi * 2^32 + lo (both unsigned 32-bit). */
  varint64(lo: number, hi: number): void {
    this.reserve(10);
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    this.buf[this.pos++] = lo;
  }

  /** Writes a non-negative safe integer as a varint. */
  uint(n: number): void {
    this.varint64(n >>> 0, Math.floor(n / 0x100000000) >>> 0);
  }

  /** Writes a length-prefixed byte string. */
  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Writes bytes as they are. */
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A copy of the bytes written. */
  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
