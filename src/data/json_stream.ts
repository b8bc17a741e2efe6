/**
 * A streaming parser for a JSON document that is one top-level array (a TinyStories shard):
 * {@link JsonArrayStream} yields each element as soon as its closing byte arrives, so memory
 * holds one element, never the whole array.
 *
 * It scans bytes for the element boundaries (commas and brackets at depth 0, outside strings)
 * and hands each element's bytes to `JSON.parse`, which validates it fully.
 *
 * @module
 */

/** A malformed array: `index` is the element (0-based) being read, `offset` the byte offset. */
export class JsonArraySyntaxError extends SyntaxError {
  /** Element index where the problem is. */
  readonly index: number;
  /** Byte offset in the document near the problem. */
  readonly offset: number;
  /** What is wrong, without the "Cannot parse" prefix. */
  readonly detail: string;
  /**
   * Creates the error.
   *
   * @param index element index
   * @param offset byte offset
   * @param detail what is wrong
   */
  constructor(index: number, offset: number, detail: string) {
    super(`Cannot parse JSON array: element ${index} (byte ${offset}): ${detail}`);
    this.name = "SyntaxError";
    this.index = index;
    this.offset = offset;
    this.detail = detail;
  }
}

/** Parser states: before '[', inside the array, after ']'. */
const S = { Start: 0, Element: 1, End: 2 } as const;

/**
 * Parses a JSON array's bytes, emitting each element parsed with `JSON.parse`. The input must
 * be UTF-8 (a leading BOM is allowed), `[`, elements separated by commas, `]`, then only
 * whitespace; anything else errors with a {@link JsonArraySyntaxError}.
 *
 * @example
 * ```ts
 * import { JsonArrayStream } from "./json_stream.ts";
 *
 * const file = await Deno.open("data/TinyStories_all_data/data00.json");
 * for await (const ex of file.readable.pipeThrough(new JsonArrayStream())) {
 *   console.log((ex as { story: string }).story);
 * }
 * ```
 */
export class JsonArrayStream extends TransformStream<Uint8Array, unknown> {
  /** Creates the stream. */
  constructor() {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let state: number = S.Start;
    let offset = 0; // bytes consumed before the current chunk
    let index = 0; // elements emitted
    let depth = 0; // bracket depth inside the current element
    let inString = false;
    let escape = false;
    let sawComma = false; // a comma preceded the current element
    let hasContent = false; // the current element has a non-whitespace byte
    let pieces: Uint8Array[] = [];
    let bomLeft = 3;
    const BOM = [0xef, 0xbb, 0xbf];

    const fail = (at: number, detail: string): never => {
      throw new JsonArraySyntaxError(index, at, detail);
    };
    const finishElement = (at: number, closing: boolean, emit: (v: unknown) => void) => {
      if (!hasContent) {
        if (closing && !sawComma && index === 0) return; // "[]"
        fail(at, "missing value");
      }
      const bytes = pieces.length === 1 ? pieces[0] : _concat(pieces);
      pieces = [];
      let text: string;
      try {
        text = decoder.decode(bytes);
      } catch {
        fail(at, "invalid UTF-8");
      }
      let value: unknown;
      try {
        value = JSON.parse(text!);
      } catch (e) {
        fail(at, (e as Error).message.split("\n")[0]);
      }
      emit(value);
      index++;
      hasContent = false;
    };

    super({
      transform(chunk, controller) {
        const emit = (v: unknown) => controller.enqueue(v);
        const n = chunk.length;
        let i = 0;
        let elemStart = -1;
        if (state === S.Element) elemStart = 0;
        while (i < n) {
          const b = chunk[i];
          if (state === S.Element) {
            if (inString) {
              if (escape) escape = false;
              else if (b === 0x5c) escape = true;
              else if (b === 0x22) inString = false;
              i++;
              continue;
            }
            if (b === 0x22) {
              inString = true;
              hasContent = true;
            } else if (b === 0x7b || b === 0x5b) {
              depth++;
              hasContent = true;
            } else if ((b === 0x7d || b === 0x5d) && depth > 0) {
              depth--;
            } else if (depth === 0 && (b === 0x2c || b === 0x5d)) {
              if (elemStart < i) pieces.push(chunk.slice(elemStart, i));
              finishElement(offset + i, b === 0x5d, emit);
              if (b === 0x2c) {
                sawComma = true;
                elemStart = i + 1;
              } else {
                state = S.End;
                elemStart = -1;
              }
            } else if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) {
              hasContent = true;
            }
            i++;
            continue;
          }
          if (state === S.Start && bomLeft > 0 && b === BOM[3 - bomLeft] && offset + i < 3) {
            bomLeft--;
            i++;
            continue;
          }
          bomLeft = 0;
          if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) {
            i++;
            continue;
          }
          if (state === S.Start && b === 0x5b) {
            state = S.Element;
            elemStart = i + 1;
            i++;
            continue;
          }
          fail(
            offset + i,
            state === S.Start
              ? "the document does not start with '['"
              : "unexpected data after the closing ']'",
          );
        }
        if (state === S.Element && elemStart >= 0 && elemStart < n) {
          pieces.push(chunk.slice(elemStart, n));
        }
        offset += n;
      },
      flush() {
        if (state === S.Start) fail(offset, "empty document, expected '['");
        if (state === S.Element) fail(offset, "the document ends before the closing ']'");
      },
    });
  }
}

function _concat(parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
