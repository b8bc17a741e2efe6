/**
 * Streaming TinyStories download: one HTTP response flows through gunzip and a tar reader
 * straight into `DATA_DIR/TinyStories_all_data/<name>`; the tarball never touches the disk.
 *
 * A dropped connection is resumed in the same process with an HTTP `Range` request from the
 * byte already received, and the new body's bytes are fed into the same decompressor; a server
 * that answers a resume with the whole file (status 200) restarts the extraction from scratch.
 * Files already extracted with the size their tar header records are skipped. gzip's checksum
 * covers the whole stream and is only known at its end: when the stream turns out corrupt, the
 * files this run wrote are removed.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { safeEntryPath, type TarEvent, UntarStream } from "./untar.ts";

/** Where llama2.c's tinystories.py downloads the dataset from. */
export const TINYSTORIES_URL =
  "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories_all_data.tar.gz";

/** Name of the folder under the data directory that receives the shards. */
export const TINYSTORIES_DIR = "TinyStories_all_data";

/** Progress of a download, reported after every chunk received. */
export interface DownloadProgress {
  /** Compressed bytes received so far (in this attempt, including resumed ranges). */
  bytes: number;
  /** Size of the whole compressed file from Content-Length / Content-Range, or null. */
  total: number | null;
  /** Milliseconds since this attempt started. */
  elapsedMs: number;
  /** The entry being written, or null between entries. */
  entry: string | null;
}

/** Options of {@link downloadTinyStories}. */
export interface DownloadOptions {
  /** URL of the `.tar.gz` (default {@link TINYSTORIES_URL}). */
  url?: string;
  /** Data directory; entries go to `<dataDir>/TinyStories_all_data/` (default `data`). */
  dataDir?: string;
  /** Retries after a failed connection without progress, and whole restarts (default 5). */
  retries?: number;
  /** First retry delay in ms, doubled each time, capped at 30 s (default 1000). */
  backoffMs?: number;
  /** A connection that delivers nothing for this long is dropped and resumed (default 60 000). */
  stallTimeoutMs?: number;
  /** Called after each chunk received. */
  onProgress?: (p: DownloadProgress) => void;
  /** Called with a one-line note on each resume or restart. */
  onRetry?: (message: string) => void;
}

/** What {@link downloadTinyStories} did. */
export interface DownloadResult {
  /** Directory the entries were extracted to. */
  dir: string;
  /** Entries written in this run (paths relative to `dir`). */
  written: string[];
  /** Entries skipped because a complete file already existed. */
  skipped: string[];
  /** Compressed bytes received in the successful attempt. */
  bytes: number;
  /** Range resumes after dropped connections. */
  resumes: number;
  /** Restarts from byte 0 (server ignored Range, or the file changed). */
  restarts: number;
}

/**
 * Checks that `url` is an absolute http:// or https:// URL, so a malformed one fails at once
 * instead of being retried as a network error.
 *
 * @param url the URL as the user gave it
 * @returns `url` unchanged
 * @throws {TypeError} (one line) for anything else
 * @example
 * ```ts
 * checkHttpUrl("https://example.com/a.tar.gz"); // ok
 * checkHttpUrl("ftp://example.com/a.tar.gz"); // throws TypeError
 * ```
 */
export function checkHttpUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(
      `Cannot download ${JSON.stringify(url)}: it is not a URL (need http(s)://...)`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(
      `Cannot download ${url}: only http:// and https:// URLs are supported, not ${u.protocol}//`,
    );
  }
  return url;
}

/**
 * Downloads and extracts the TinyStories tarball in one stream.
 *
 * @param opts see {@link DownloadOptions}
 * @returns what was written and skipped
 * @throws {TypeError} when the URL is not http(s) (before any connection)
 * @throws {SyntaxError} on a corrupt gzip or tar stream, or an entry path escaping the target
 * @throws {Error} on an HTTP error status, or when the connection keeps failing
 * @example
 * ```ts
 * import { downloadTinyStories } from "./download.ts";
 *
 * const r = await downloadTinyStories({ dataDir: "data" });
 * console.log(`${r.written.length} shards in ${r.dir}`);
 * ```
 */
export async function downloadTinyStories(opts: DownloadOptions = {}): Promise<DownloadResult> {
  const url = checkHttpUrl(opts.url ?? TINYSTORIES_URL);
  const dir = join(opts.dataDir ?? "data", TINYSTORIES_DIR);
  const retries = opts.retries ?? 5;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new RangeError(`Cannot download: retries must be an integer >= 0, got ${retries}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const counters = { resumes: 0, restarts: 0 };
  for (let attempt = 0;; attempt++) {
    const result: DownloadResult = { dir, written: [], skipped: [], bytes: 0, ...counters };
    const t0 = performance.now();
    let entry: string | null = null;
    const body = resumableBody(url, {
      retries,
      backoffMs: opts.backoffMs ?? 1000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
      onRetry: (msg) => {
        counters.resumes++;
        opts.onRetry?.(msg);
      },
      onChunk: (bytes, total) => {
        result.bytes = bytes;
        opts.onProgress?.({ bytes, total, elapsedMs: performance.now() - t0, entry });
      },
    });
    const events = body
      .pipeThrough(new DecompressionStream("gzip"))
      .pipeThrough(new UntarStream());
    try {
      await extractTarEvents(events, dir, result, (name) => (entry = name));
      result.resumes = counters.resumes;
      return result;
    } catch (e) {
      if (e instanceof _RestartSignal && attempt < retries) {
        counters.restarts++;
        result.restarts = counters.restarts;
        opts.onRetry?.(`${e.message}; restarting from byte 0`);
        continue;
      }
      const err = _describe(e, url);
      if (err instanceof SyntaxError && !/escapes the target|empty path/.test(err.message)) {
        // The gzip checksum covers the whole stream and is checked only at its end, so a
        // corrupt stream may already have produced complete-looking files: remove them.
        for (const rel of result.written) await Deno.remove(join(dir, rel)).catch(() => {});
      }
      throw err;
    }
  }
}

/**
 * Writes the entries of a tar event stream under `dir`: each file to `<name>.part`, renamed to
 * `<name>` once complete with the size its header records. An entry whose final file already
 * exists with that size is skipped. On any error the `.part` file being written is removed.
 *
 * @param events the output of {@link UntarStream}
 * @param dir target directory (created as needed)
 * @param result receives the written and skipped names
 * @param onEntry called with each entry's name as it starts, and `null` after it ends
 * @throws {SyntaxError} for a path escaping `dir` or an entry whose data is short
 */
export async function extractTarEvents(
  events: ReadableStream<TarEvent>,
  dir: string,
  result: { written: string[]; skipped: string[] },
  onEntry?: (name: string | null) => void,
): Promise<void> {
  let file: Deno.FsFile | null = null;
  let part = "";
  let final = "";
  let rel = "";
  let written = 0;
  try {
    for await (const ev of events) {
      if (ev.kind === "header") {
        const h = ev.header;
        if (h.type === "other") continue;
        rel = safeEntryPath(h.name);
        final = join(dir, rel);
        if (h.type === "directory") {
          await Deno.mkdir(final, { recursive: true });
          continue;
        }
        onEntry?.(rel);
        if ((await _size(final)) === h.size) {
          result.skipped.push(rel);
          continue;
        }
        await Deno.mkdir(dirname(final), { recursive: true });
        part = final + ".part";
        file = await Deno.open(part, { write: true, create: true, truncate: true });
        written = 0;
      } else if (ev.kind === "data") {
        if (file === null) continue;
        await _writeAll(file, ev.bytes);
        written += ev.bytes.length;
      } else {
        onEntry?.(null);
        if (file === null) continue;
        file.close();
        file = null;
        if (written !== ev.header.size) {
          throw new SyntaxError(
            `Cannot extract ${rel}: wrote ${written} bytes, its header says ${ev.header.size}`,
          );
        }
        await Deno.rename(part, final);
        part = "";
        result.written.push(rel);
      }
    }
  } catch (e) {
    if (file !== null) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    if (part !== "") await Deno.remove(part).catch(() => {});
    throw e;
  }
}

/** Options of {@link resumableBody}. */
export interface ResumableOptions {
  /** Consecutive failed connections (no byte received) tolerated before giving up. */
  retries: number;
  /** First retry delay in ms, doubled each time, capped at 30 s. */
  backoffMs: number;
  /** Drop and resume a connection idle this long (ms). */
  stallTimeoutMs: number;
  /** Called with a one-line note before each resume. */
  onRetry?: (message: string) => void;
  /** Called after each chunk with the bytes received so far and the total size if known. */
  onChunk?: (bytes: number, total: number | null) => void;
}

/**
 * The body of `GET url` as one stream that survives dropped connections: when a read fails, the
 * connection stalls, or the body ends before its declared length, it asks again with
 * `Range: bytes=<received>-` (and `If-Range` when the first response had a validator) and
 * continues with the new body. If the server answers a resume with anything but the requested
 * range, the stream errors with an internal restart signal that {@link downloadTinyStories}
 * handles by starting over.
 *
 * @param url what to fetch
 * @param o retry policy and callbacks
 * @returns a byte stream of the whole body
 */
export function resumableBody(
  url: string,
  o: ResumableOptions,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let reader: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | null = null;
  let abort: AbortController | null = null;
  let pos = 0;
  let total: number | null = null;
  let validator: string | null = null;
  let failures = 0;
  let cancelled = false;

  const open = async (): Promise<void> => {
    abort = new AbortController();
    const headers: Record<string, string> = {};
    if (pos > 0) {
      headers["range"] = `bytes=${pos}-`;
      if (validator) headers["if-range"] = validator;
    }
    const timer = setTimeout(() => abort?.abort(), o.stallTimeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: abort.signal });
    } finally {
      clearTimeout(timer);
    }
    if (pos === 0 && (res.status === 200 || res.status === 206)) {
      const start = res.status === 206 ? _rangeStart(res) : 0;
      if (start !== 0) {
        await res.body?.cancel();
        throw new _Fatal(`Cannot download ${url}: server sent a range starting at ${start}`);
      }
      total = _totalSize(res);
      const etag = res.headers.get("etag");
      validator = etag && !etag.startsWith("W/") ? etag : res.headers.get("last-modified");
    } else if (pos > 0 && res.status === 206) {
      const start = _rangeStart(res);
      if (start !== pos) {
        await res.body?.cancel();
        throw new _RestartSignal(`server answered Range bytes=${pos}- from byte ${start}`);
      }
    } else if (pos > 0 && res.status === 200) {
      await res.body?.cancel();
      throw new _RestartSignal(`server ignored Range bytes=${pos}- (HTTP 200)`);
    } else {
      await res.body?.cancel();
      const msg = `Cannot download ${url}: HTTP ${res.status} ${res.statusText}`.trim();
      if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(msg);
      throw new _Fatal(msg);
    }
    if (!res.body) throw new _Fatal(`Cannot download ${url}: empty response`);
    reader = res.body.getReader();
  };

  const read = async (): Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>> => {
    const timer = setTimeout(() => abort?.abort(), o.stallTimeoutMs);
    try {
      return await reader!.read();
    } finally {
      clearTimeout(timer);
    }
  };

  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      for (;;) {
        try {
          if (reader === null) await open();
          const { done, value } = await read();
          if (done) {
            if (total !== null && pos < total) {
              throw new Error(`connection closed at byte ${pos} of ${total}`);
            }
            controller.close();
            return;
          }
          if (value.length === 0) continue;
          pos += value.length;
          failures = 0;
          controller.enqueue(value);
          o.onChunk?.(pos, total);
          return;
        } catch (e) {
          if (cancelled) return; // the consumer stopped reading: nothing to resume
          if (e instanceof _Fatal || e instanceof _RestartSignal) throw e;
          const old = reader as ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | null;
          reader = null;
          old?.cancel().catch(() => {});
          failures++;
          const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
          if (failures > o.retries) {
            throw new _Fatal(
              `Cannot download ${url}: connection failed ${failures} times at byte ${pos}: ${why}`,
            );
          }
          const delay = Math.min(o.backoffMs * 2 ** (failures - 1), 30_000);
          o.onRetry?.(
            `connection lost at byte ${pos} (${why}); resuming in ${(delay / 1000).toFixed(1)} s`,
          );
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    },
    cancel(reason) {
      cancelled = true;
      abort?.abort();
      return reader?.cancel(reason).catch(() => {});
    },
  });
}

/** Formats a progress line: bytes, MB/s and ETA when the total is known. */
export function formatDownloadProgress(p: DownloadProgress): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const rate = p.elapsedMs > 0 ? p.bytes / 1e6 / (p.elapsedMs / 1000) : 0;
  let line = p.total !== null
    ? `${mb(p.bytes)}/${mb(p.total)} MB (${((100 * p.bytes) / p.total).toFixed(1)}%)`
    : `${mb(p.bytes)} MB`;
  line += `  ${rate.toFixed(1)} MB/s`;
  if (p.total !== null && rate > 0) {
    const eta = Math.max(0, (p.total - p.bytes) / 1e6 / rate);
    line += `  ETA ${_duration(eta)}`;
  }
  if (p.entry) line += `  ${p.entry}`;
  return line;
}

class _Fatal extends Error {}
class _RestartSignal extends Error {}

function _describe(e: unknown, url: string): Error {
  if (e instanceof _Fatal) return new Error(e.message);
  if (e instanceof _RestartSignal) {
    return new Error(`Cannot download ${url}: ${e.message}, and no restarts are left`);
  }
  if (e instanceof SyntaxError) return e;
  // The decompressor reports a corrupt stream as a TypeError ("invalid gzip header", ...).
  if (e instanceof TypeError) {
    return new SyntaxError(`Cannot download ${url}: corrupt gzip stream (${_firstLine(e)})`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

function _firstLine(e: Error): string {
  return e.message.split("\n")[0];
}

function _rangeStart(res: Response): number {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : -1;
}

function _totalSize(res: Response): number | null {
  if (res.status === 206) {
    const m = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    return m ? Number(m[1]) : null;
  }
  const len = res.headers.get("content-length");
  // A compressed transfer encoding makes Content-Length the encoded size: not ours to check.
  if (len === null || res.headers.get("content-encoding")) return null;
  return Number(len);
}

async function _size(path: string): Promise<number | null> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? st.size : null;
  } catch {
    return null;
  }
}

async function _writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function _duration(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
