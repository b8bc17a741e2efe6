/**
 * `encode`: SentencePiece-exact tokenization as a filter. Reads one JSON string per line on
 * stdin and writes one JSON array of ids per line (no BOS unless `--bos`); with `--decode`,
 * reads JSON id arrays and writes JSON strings. A line that does not parse stops the command
 * with an error naming its line number (exit 1); the lines before it are already written.
 *
 * @example
 * ```sh
 * echo '"Hello world"' | deno run -A main.ts encode --tokenizer tokenizer.model
 * # [15043,3186]
 * echo '[15043,3186]' | deno run -A main.ts encode --tokenizer tokenizer.model --decode
 * # "Hello world"
 * ```
 *
 * @module
 */
import type { Command } from "./args.ts";
import { Tokenizer } from "../data/tokenizer.ts";

const FLUSH_BYTES = 1 << 16;

/** The `encode` subcommand. */
export const encodeCommand: Command = {
  name: "encode",
  summary: "tokenize JSON strings from stdin (one per line) to JSON id arrays, or --decode",
  usage: "--tokenizer PATH [--decode] [--bos] [--eos] < lines.jsonl",
  flags: {
    tokenizer: {
      type: "string",
      required: true,
      help: "SentencePiece tokenizer.model or llama2.c tokenizer.bin",
    },
    decode: {
      type: "boolean",
      default: false,
      help: "read JSON id arrays, write JSON strings (sp.decode)",
    },
    bos: { type: "boolean", default: false, help: "prepend the BOS id when encoding" },
    eos: { type: "boolean", default: false, help: "append the EOS id when encoding" },
  },
  async run(values) {
    const tok = await Tokenizer.load(values.tokenizer as string);
    const decode = values.decode as boolean;
    const opts = { bos: values.bos as boolean, eos: values.eos as boolean };
    const out = new _Output();
    try {
      let n = 0;
      for await (const line of _lines(Deno.stdin.readable)) {
        n++;
        out.write((decode ? _decodeLine(tok, line, n) : _encodeLine(tok, line, n, opts)) + "\n");
      }
    } finally {
      out.flush();
    }
  },
};

function _encodeLine(
  tok: Tokenizer,
  line: string,
  n: number,
  opts: { bos: boolean; eos: boolean },
): string {
  let text: unknown;
  try {
    text = JSON.parse(line);
  } catch {
    throw new SyntaxError(`Cannot encode line ${n}: not JSON (expected a JSON string)`);
  }
  if (typeof text !== "string") {
    throw new TypeError(`Cannot encode line ${n}: expected a JSON string, got ${_kind(text)}`);
  }
  return JSON.stringify(tok.encode(text, opts));
}

function _decodeLine(tok: Tokenizer, line: string, n: number): string {
  let ids: unknown;
  try {
    ids = JSON.parse(line);
  } catch {
    throw new SyntaxError(`Cannot decode line ${n}: not JSON (expected a JSON array of ids)`);
  }
  if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x))) {
    throw new TypeError(`Cannot decode line ${n}: expected a JSON array of integer ids`);
  }
  for (const id of ids as number[]) {
    if (id < 0 || id >= tok.vocabSize) {
      throw new RangeError(`Cannot decode line ${n}: id ${id} is outside [0, ${tok.vocabSize})`);
    }
  }
  return JSON.stringify(tok.decode(ids as number[]));
}

function _kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/** Lines of a byte stream (UTF-8), without their `\n` / `\r\n`; a final unterminated line counts. */
async function* _lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let start = 0;
    for (let i = rest.indexOf("\n"); i >= 0; i = rest.indexOf("\n", start)) {
      yield _chompCr(rest.slice(start, i));
      start = i + 1;
    }
    rest = rest.slice(start);
  }
  if (rest.length > 0) yield _chompCr(rest);
}

function _chompCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

/** Buffered stdout: collects text and writes it in large chunks. */
class _Output {
  #parts: string[] = [];
  #size = 0;
  #enc = new TextEncoder();

  write(s: string): void {
    this.#parts.push(s);
    this.#size += s.length;
    if (this.#size >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    const bytes = this.#enc.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  }
}
