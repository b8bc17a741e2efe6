/**
 * A streaming tar reader: {@link UntarStream} turns the bytes of a tar archive (ustar, GNU and
 * pax flavours) into a flat stream of {@link TarEvent}s (an entry's header, its data in pieces,
 * its end), so a caller can write each file as it arrives without holding the archive.
 *
 * @module
 */

/** The header of one archive entry, after pax and GNU long-name records are applied. */
export interface TarHeader {
  /** Path inside the archive, as stored (see {@link safeEntryPath} before using it). */
  name: string;
  /** Size of the entry's data in bytes. */
  size: number;
  /** `file`, `directory`, or `other` (links, devices, fifos: their data is still reported). */
  type: "file" | "directory" | "other";
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** One event of {@link UntarStream}: an entry starts, some of its data, or it ends. */
export type TarEvent =
  | { kind: "header"; header: TarHeader }
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "end"; header: TarHeader };

const BLOCK = 512;
const _decoder = new TextDecoder();

/**
 * Splits a tar archive into {@link TarEvent}s. Every entry yields one `header`, zero or more
 * `data` events whose lengths add up to `header.size`, then one `end`. Pax (`x`, `g`) and GNU
 * long-name (`L`, `K`) records are consumed and applied to the next entry, never reported.
 * Reading stops at the end-of-archive marker (two zero blocks); anything after it is ignored.
 *
 * Errors with a `SyntaxError` on a header whose checksum is wrong, or on input that ends in
 * the middle of an entry.
 *
 * @example
 * ```ts
 * import { UntarStream } from "./untar.ts";
 *
 * const res = await fetch("https://example.com/a.tar.gz");
 * const events = res.body!.pipeThrough(new DecompressionStream("gzip")).pipeThrough(new UntarStream());
 * for await (const ev of events) if (ev.kind === "header") console.log(ev.header.name);
 * ```
 */
export class UntarStream extends TransformStream<Uint8Array, TarEvent> {
  /** Creates the stream. */
  constructor() {
    const p = new _TarParser();
    super({
      transform(chunk, controller) {
        p.push(chunk, (ev) => controller.enqueue(ev));
      },
      flush() {
        p.finish();
      },
    });
  }
}

/**
 * Checks that an archive entry's path stays inside the directory it is extracted to, and
 * returns it normalised (no leading `./`, no empty or `.` segments).
 *
 * @param name the entry's path as stored in the archive
 * @returns the relative path, segments joined with `/`
 * @throws {SyntaxError} for an absolute path, a `..` segment, a backslash or a NUL byte
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeEntryPath } from "./untar.ts";
 *
 * assert.equal(safeEntryPath("./data00.json"), "data00.json");
 * assert.throws(() => safeEntryPath("../x"), SyntaxError);
 * ```
 */
export function safeEntryPath(name: string): string {
  if (
    name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.includes("\\") || name.includes("\0")
  ) {
    throw new SyntaxError(`Cannot extract entry ${JSON.stringify(name)}: path escapes the target`);
  }
  const parts = name.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === "..")) {
    throw new SyntaxError(`Cannot extract entry ${JSON.stringify(name)}: path escapes the target`);
  }
  if (parts.length === 0) {
    throw new SyntaxError(`Cannot extract entry ${JSON.stringify(name)}: empty path`);
  }
  return parts.join("/");
}

/** The push parser behind {@link UntarStream}. */
class _TarParser {
  /** Bytes of a header (or pax/long-name body) being collected. */
  #buf = new Uint8Array(BLOCK);
  #bufLen = 0;
  /** What the next bytes are. */
  #state: "header" | "data" | "padding" | "meta" | "done" = "header";
  /** Bytes left in the current data/meta/padding section. */
  #left = 0;
  #header: TarHeader | null = null;
  #metaType = "";
  #meta: Uint8Array = new Uint8Array(0);
  #metaLen = 0;
  #zeroBlocks = 0;
  /** Overrides from pax / GNU long-name records for the next entry. */
  #pending: { name?: string; size?: number } = {};
  #global: { name?: string; size?: number } = {};

  push(chunk: Uint8Array, emit: (ev: TarEvent) => void): void {
    let i = 0;
    while (i < chunk.length) {
      switch (this.#state) {
        case "done":
          return;
        case "header": {
          const n = Math.min(BLOCK - this.#bufLen, chunk.length - i);
          this.#buf.set(chunk.subarray(i, i + n), this.#bufLen);
          this.#bufLen += n;
          i += n;
          if (this.#bufLen === BLOCK) {
            this.#bufLen = 0;
            this.#onHeader(emit);
          }
          break;
        }
        case "data": {
          const n = Math.min(this.#left, chunk.length - i);
          // A copy: the consumer may hold the piece after the source chunk is reused.
          emit({ kind: "data", bytes: chunk.slice(i, i + n) });
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#endData(emit);
          break;
        }
        case "meta": {
          const n = Math.min(this.#left, chunk.length - i);
          this.#meta.set(chunk.subarray(i, i + n), this.#metaLen);
          this.#metaLen += n;
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#endMeta();
          break;
        }
        case "padding": {
          const n = Math.min(this.#left, chunk.length - i);
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = "header";
          break;
        }
      }
    }
  }

  finish(): void {
    if (this.#state === "done") return;
    if (this.#state === "header" && this.#bufLen === 0 && this.#header === null) return;
    throw new SyntaxError("Cannot read tar archive: it ends in the middle of an entry");
  }

  #onHeader(emit: (ev: TarEvent) => void): void {
    const b = this.#buf;
    if (b.every((x) => x === 0)) {
      this.#zeroBlocks++;
      if (this.#zeroBlocks === 2) this.#state = "done";
      return;
    }
    this.#zeroBlocks = 0;
    const stored = _octal(b, 148, 8);
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 32 : b[k];
    if (stored !== sum) {
      throw new SyntaxError(
        "Cannot read tar archive: header checksum mismatch (not a tar file, or corrupt)",
      );
    }
    const flag = String.fromCharCode(b[156] || 48);
    let size = _number(b, 124, 12);
    const magic = _decoder.decode(b.subarray(257, 263));
    let name = _cstr(b, 0, 100);
    if (magic === "ustar\0") {
      const prefix = _cstr(b, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > 1 << 24) {
        throw new SyntaxError(`Cannot read tar archive: ${size}-byte metadata record`);
      }
      this.#metaType = flag;
      this.#meta = new Uint8Array(size);
      this.#metaLen = 0;
      this.#left = size;
      if (size === 0) this.#endMeta();
      else this.#state = "meta";
      return;
    }
    const o = { ...this.#global, ...this.#pending };
    this.#pending = {};
    if (o.name !== undefined) name = o.name;
    if (o.size !== undefined) size = o.size;
    const type = flag === "0" || flag === "7"
      ? "file"
      : flag === "5"
      ? "directory"
      : "other" as const;
    // Hard links, symlinks and the like carry no data in practice; a directory never does.
    if (flag === "1" || flag === "2" || flag === "5") size = 0;
    const header: TarHeader = { name, size, type, mtime: _number(b, 136, 12) };
    this.#header = header;
    emit({ kind: "header", header });
    this.#left = size;
    if (size === 0) this.#endData(emit);
    else this.#state = "data";
  }

  #endData(emit: (ev: TarEvent) => void): void {
    const header = this.#header!;
    this.#header = null;
    emit({ kind: "end", header });
    this.#skipPadding(header.size);
  }

  #endMeta(): void {
    const text = _decoder.decode(this.#meta);
    if (this.#metaType === "L") this.#pending.name = text.replace(/\0+$/, "");
    else if (this.#metaType === "x" || this.#metaType === "g") {
      const target = this.#metaType === "x" ? this.#pending : this.#global;
      for (const [key, value] of _paxRecords(this.#meta)) {
        if (key === "path") target.name = value;
        else if (key === "size") target.size = Number(value);
      }
    }
    this.#skipPadding(this.#meta.length);
    this.#meta = new Uint8Array(0);
  }

  #skipPadding(size: number): void {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.#left = pad;
    this.#state = pad === 0 ? "header" : "padding";
  }
}

/** `"<len> key=value\n"` records of a pax extended header. */
function _paxRecords(bytes: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < bytes.length) {
    const sp = bytes.indexOf(32, i);
    if (sp < 0) break;
    const len = Number(_decoder.decode(bytes.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= 0 || i + len > bytes.length) {
      throw new SyntaxError("Cannot read tar archive: malformed pax header");
    }
    const rec = _decoder.decode(bytes.subarray(sp + 1, i + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out.push([rec.slice(0, eq), rec.slice(eq + 1)]);
    i += len;
  }
  return out;
}

function _cstr(b: Uint8Array, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return _decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

function _octal(b: Uint8Array, off: number, len: number): number {
  const s = _cstr(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) {
    throw new SyntaxError("Cannot read tar archive: bad number in header (not a tar file?)");
  }
  return parseInt(s, 8);
}

/** A numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function _number(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) {
    let v = b[off] & 0x7f;
    for (let k = 1; k < len; k++) v = v * 256 + b[off + k];
    return v;
  }
  return _octal(b, off, len);
}
