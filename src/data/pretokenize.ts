/**
 * Pretokenize TinyStories the way llama2.c's `tinystories.py pretokenize` does: for each
 * `TinyStories_all_data/dataNN.json`, every example's `story`, stripped of leading and trailing
 * whitespace (Python's `str.strip()`), encoded with BOS (id 1) first and no EOS, all
 * concatenated and written as little-endian uint16 to `dataNN.bin` beside the JSON (Llama 2
 * vocabulary) or to `tok{N}/dataNN.bin` (a custom vocabulary of size N).
 *
 * Shards are stream-parsed ({@link JsonArrayStream}) and their tokens written incrementally to
 * `dataNN.bin.part`, renamed when complete; {@link pretokenize} spreads shards over Deno
 * Workers (`pretokenize_worker.ts`).
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { JsonArrayStream, JsonArraySyntaxError } from "./json_stream.ts";
import { TINYSTORIES_DIR } from "./download.ts";

/** What pretokenizing needs from a tokenizer (`Tokenizer` in `tokenizer.ts` fits). */
export interface StoryTokenizer {
  /** Token ids of `text`, with BOS first when `opts.bos`. */
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
}

/** Counts for one shard, or a running total. */
export interface ShardStats {
  /** JSON bytes read. */
  bytes: number;
  /** Stories encoded. */
  stories: number;
  /** Tokens written (BOS included). */
  tokens: number;
}

// Python's str.isspace(): Unicode White_Space plus the ASCII separators \x1c-\x1f.
// JavaScript's trim() differs: it strips U+FEFF but neither U+0085 nor \x1c-\x1f.
const _PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029" +
  "\\u202f\\u205f\\u3000]";
const _PY_STRIP = new RegExp(`^${_PY_SPACE}+|${_PY_SPACE}+$`, "g");

/**
 * Python's `str.strip()` with no argument: removes leading and trailing characters for which
 * `str.isspace()` is true.
 *
 * @param s any string
 * @returns `s` without surrounding whitespace
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pyStrip } from "./pretokenize.ts";
 *
 * assert.equal(pyStrip("\u0085 Once upon a time.\n"), "Once upon a time.");
 * ```
 */
export function pyStrip(s: string): string {
  return s.replace(_PY_STRIP, "");
}

/**
 * Where the tokens of shard `jsonPath` go: `dataNN.bin` beside it for the Llama 2 vocabulary
 * (`vocabSize` 0), else `<dataDir>/tok{vocabSize}/dataNN.bin`.
 *
 * @param dataDir the data directory
 * @param jsonPath the shard
 * @param vocabSize 0 for Llama 2, else the custom vocabulary's size
 * @returns the output path
 */
export function shardOutputPath(dataDir: string, jsonPath: string, vocabSize: number): string {
  const name = basename(jsonPath).replace(/\.json$/, "") + ".bin";
  return vocabSize === 0 ? join(dirname(jsonPath), name) : join(dataDir, `tok${vocabSize}`, name);
}

/**
 * The shards `<dataDir>/TinyStories_all_data/*.json`, sorted by name.
 *
 * @param dataDir the data directory
 * @returns absolute or relative paths as `dataDir` is
 * @throws {Error} when the directory holds no `.json` file
 */
export async function listShards(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, TINYSTORIES_DIR);
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".json")) out.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (out.length === 0) {
    throw new Error(
      `Cannot pretokenize: no .json shards in ${dir} (run: deno run -A main.ts download)`,
    );
  }
  return out.sort();
}

/**
 * Tokenizes one shard into `binPath` (through `binPath.part`, renamed at the end). On any error
 * the `.part` file is removed and nothing is written under `binPath`.
 *
 * @param jsonPath a JSON array of `{story: string, ...}`
 * @param binPath output file of little-endian uint16 tokens
 * @param tokenizer encodes a story
 * @param onProgress called now and then with the shard's running counts
 * @returns the shard's counts
 * @throws {SyntaxError} on invalid JSON, naming the shard and element index
 * @throws {TypeError} when an element is not an object with a string `story`
 * @throws {RangeError} when a token id does not fit in uint16
 * @example
 * ```ts
 * import { Tokenizer } from "./tokenizer.ts";
 * import { pretokenizeShard } from "./pretokenize.ts";
 *
 * const tok = await Tokenizer.load("data/tokenizer.model");
 * await pretokenizeShard("data/TinyStories_all_data/data00.json", "data00.bin", tok);
 * ```
 */
export async function pretokenizeShard(
  jsonPath: string,
  binPath: string,
  tokenizer: StoryTokenizer,
  onProgress?: (s: ShardStats) => void,
): Promise<ShardStats> {
  const shard = basename(jsonPath);
  const stats: ShardStats = { bytes: 0, stories: 0, tokens: 0 };
  const part = binPath + ".part";
  await Deno.mkdir(dirname(binPath), { recursive: true });
  using input = await Deno.open(jsonPath, { read: true });
  const out = await Deno.open(part, { write: true, create: true, truncate: true });
  const buf = new Uint16Array(1 << 20);
  const bytes = new Uint8Array(buf.buffer);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let n = 0;
  const flush = async () => {
    if (!little) { for (let k = 0; k < n; k++) buf[k] = ((buf[k] & 0xff) << 8) | (buf[k] >> 8); }
    let off = 0;
    const end = n * 2;
    while (off < end) off += await out.write(bytes.subarray(off, end));
    n = 0;
  };
  let lastReport = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      stats.bytes += chunk.length;
      c.enqueue(chunk);
    },
  });
  try {
    const elements = input.readable.pipeThrough(counter).pipeThrough(new JsonArrayStream());
    for await (const ex of elements) {
      const story = ex !== null && typeof ex === "object" && !Array.isArray(ex)
        ? (ex as Record<string, unknown>).story
        : undefined;
      if (typeof story !== "string") {
        throw new TypeError(
          `Cannot pretokenize ${shard}: example ${stats.stories} has no string "story" (got ${
            _kind(ex, story)
          })`,
        );
      }
      const ids = tokenizer.encode(pyStrip(story), { bos: true, eos: false });
      for (let k = 0; k < ids.length; k++) {
        const id = ids[k];
        if (!(id >= 0 && id <= 0xffff && Number.isInteger(id))) {
          throw new RangeError(
            `Cannot pretokenize ${shard}: example ${stats.stories} has token id ${id}, ` +
              "which does not fit in uint16",
          );
        }
        if (n === buf.length) await flush();
        buf[n++] = id;
      }
      stats.stories++;
      stats.tokens += ids.length;
      if (onProgress && stats.stories - lastReport >= 256) {
        lastReport = stats.stories;
        onProgress({ ...stats });
      }
    }
    await flush();
    out.close();
    await Deno.rename(part, binPath);
  } catch (e) {
    try {
      out.close();
    } catch { /* already closed */ }
    await Deno.remove(part).catch(() => {});
    if (e instanceof JsonArraySyntaxError) {
      throw new SyntaxError(
        `Cannot pretokenize ${shard}: invalid JSON at example ${e.index} ` +
          `(byte ${e.offset}): ${e.detail}`,
      );
    }
    throw e;
  }
  onProgress?.({ ...stats });
  return stats;
}

/** Options of {@link pretokenize}. */
export interface PretokenizeOptions {
  /** Data directory holding `TinyStories_all_data/` (default `data`). */
  dataDir?: string;
  /** 0 (default) for the Llama 2 vocabulary, else N for `tok{N}.model` output in `tok{N}/`. */
  vocabSize?: number;
  /** Tokenizer model; default `<dataDir>/tokenizer.model` or `<dataDir>/tok{N}.model`. */
  tokenizer?: string;
  /** Parallel workers (default `navigator.hardwareConcurrency`, at most one per shard). */
  workers?: number;
  /** Only these shards (default: every `.json` under `TinyStories_all_data/`). */
  shards?: string[];
  /** Called now and then with totals over all shards so far, and the shards finished. */
  onProgress?: (total: ShardStats, done: number, shards: number) => void;
}

/** What {@link pretokenize} did. */
export interface PretokenizeResult extends ShardStats {
  /** Output files, in shard order. */
  outputs: string[];
  /** Wall time in seconds. */
  seconds: number;
}

/**
 * Pretokenizes every shard, in parallel across Deno Workers.
 *
 * @param opts see {@link PretokenizeOptions}
 * @returns totals and the output files
 * @throws {Error} when the tokenizer model is missing (naming where to get it)
 * @throws the first shard error (one line naming the shard and example index); the other
 *   workers are stopped and their partial files removed
 * @example
 * ```ts
 * import { pretokenize } from "./pretokenize.ts";
 *
 * const r = await pretokenize({ dataDir: "data", workers: 2 });
 * console.log(`${r.tokens} tokens in ${r.outputs.length} files`);
 * ```
 */
export async function pretokenize(opts: PretokenizeOptions = {}): Promise<PretokenizeResult> {
  const dataDir = opts.dataDir ?? "data";
  const vocabSize = opts.vocabSize ?? 0;
  if (!Number.isInteger(vocabSize) || vocabSize < 0 || vocabSize > 65536) {
    throw new RangeError(`Cannot pretokenize: vocab size must be 0..65536, got ${vocabSize}`);
  }
  const tokenizer = await resolveTokenizerPath(dataDir, vocabSize, opts.tokenizer);
  const shards = opts.shards ?? await listShards(dataDir);
  const workers = Math.min(opts.workers ?? navigator.hardwareConcurrency ?? 1, shards.length);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`Cannot pretokenize: workers must be an integer >= 1, got ${workers}`);
  }
  const t0 = performance.now();
  const outputs = shards.map((s) => shardOutputPath(dataDir, s, vocabSize));
  const live = new Map<number, ShardStats>(); // in-flight shard -> its running counts
  const total: ShardStats = { bytes: 0, stories: 0, tokens: 0 };
  let done = 0;
  const report = () => {
    if (!opts.onProgress) return;
    const sum = { ...total };
    for (const s of live.values()) {
      sum.bytes += s.bytes;
      sum.stories += s.stories;
      sum.tokens += s.tokens;
    }
    opts.onProgress(sum, done, shards.length);
  };

  const pool: Worker[] = [];
  let next = 0;
  let failed: Error | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        if (failed) return;
        failed = e;
        reject(e);
      };
      const feed = (w: Worker) => {
        if (failed) return;
        if (next >= shards.length) {
          if (done === shards.length) resolve();
          return;
        }
        const i = next++;
        (w as Worker & { shard?: number }).shard = i;
        live.set(i, { bytes: 0, stories: 0, tokens: 0 });
        w.postMessage({ jsonPath: shards[i], binPath: outputs[i], tokenizerPath: tokenizer });
      };
      for (let k = 0; k < workers; k++) {
        const w = new Worker(new URL("./pretokenize_worker.ts", import.meta.url).href, {
          type: "module",
        });
        pool.push(w);
        w.onmessage = (ev: MessageEvent<WorkerReply>) => {
          const m = ev.data;
          const i = (w as Worker & { shard?: number }).shard!;
          if (m.type === "progress") {
            live.set(i, m.stats);
            report();
          } else if (m.type === "done") {
            live.delete(i);
            total.bytes += m.stats.bytes;
            total.stories += m.stats.stories;
            total.tokens += m.stats.tokens;
            done++;
            report();
            feed(w);
          } else {
            fail(_rebuild(m.error));
          }
        };
        w.onerror = (ev) => {
          ev.preventDefault();
          fail(new Error(`Cannot pretokenize: worker crashed: ${ev.message}`));
        };
        feed(w);
      }
    });
  } finally {
    for (const w of pool) w.terminate();
    if (failed) {
      // Terminated workers may leave `.part` files behind: remove them.
      for (const i of live.keys()) await Deno.remove(outputs[i] + ".part").catch(() => {});
    }
  }
  return { ...total, outputs, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The tokenizer model to use: `explicit` if given (it must exist), else
 * `<dataDir>/tokenizer.model` (Llama 2) or `<dataDir>/tok{N}.model`.
 *
 * @throws {Error} when the file does not exist, naming where to get it
 */
export async function resolveTokenizerPath(
  dataDir: string,
  vocabSize: number,
  explicit?: string,
): Promise<string> {
  const path = explicit ??
    join(dataDir, vocabSize === 0 ? "tokenizer.model" : `tok${vocabSize}.model`);
  try {
    if ((await Deno.stat(path)).isFile) return path;
  } catch { /* reported below */ }
  const hint = vocabSize === 0
    ? "get the Llama 2 tokenizer from " +
      "https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.model " +
      "or pass --tokenizer PATH"
    : `train it first (llama2.c: python tinystories.py train_vocab --vocab_size=${vocabSize}) ` +
      "or pass --tokenizer PATH";
  throw new Error(`Cannot pretokenize: tokenizer model ${path} not found; ${hint}`);
}

/** A message from `pretokenize_worker.ts`. */
export type WorkerReply =
  | { type: "progress"; stats: ShardStats }
  | { type: "done"; stats: ShardStats }
  | { type: "error"; error: { name: string; message: string } };

/** A message to `pretokenize_worker.ts`. */
export interface WorkerRequest {
  /** Shard to read. */
  jsonPath: string;
  /** File to write. */
  binPath: string;
  /** Tokenizer model to load (cached by the worker across shards). */
  tokenizerPath: string;
}

function _rebuild(e: { name: string; message: string }): Error {
  const C = e.name === "SyntaxError"
    ? SyntaxError
    : e.name === "TypeError"
    ? TypeError
    : e.name === "RangeError"
    ? RangeError
    : Error;
  return new C(e.message);
}

function _kind(ex: unknown, story: unknown): string {
  if (ex === null || typeof ex !== "object" || Array.isArray(ex)) {
    return `an element of type ${ex === null ? "null" : Array.isArray(ex) ? "array" : typeof ex}`;
  }
  return story === undefined
    ? "no story field"
    : `a story of type ${story === null ? "null" : typeof story}`;
}
