/**
 * Test helpers for the data pipeline: a small ustar writer (independent of the reader under
 * test), gzip through CompressionStream, TinyStories-shaped JSON shards, and a local HTTP server
 * that can drop connections, ignore Range, or send garbage.
 */

const _enc = new TextEncoder();

/** One entry of {@link makeTar}. */
export interface TarEntrySpec {
  /** Path stored in the header (`prefix` is used automatically for names over 100 bytes). */
  name: string;
  /** File contents (omit for a directory). */
  data?: Uint8Array;
  /** `0` file (default), `5` directory, `2` symlink. */
  type?: "0" | "5" | "2";
}

/** A POSIX ustar archive of `entries`, ending with two zero blocks. */
export function makeTar(entries: TarEntrySpec[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const h = new Uint8Array(512);
    let name = e.name;
    let prefix = "";
    if (_enc.encode(name).length > 100) {
      const cut = name.lastIndexOf("/", 155);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    const put = (off: number, len: number, s: string) => {
      const b = _enc.encode(s);
      if (b.length > len) throw new Error(`tar field too long: ${s}`);
      h.set(b, off);
    };
    const octal = (off: number, len: number, v: number) =>
      put(off, len, v.toString(8).padStart(len - 1, "0") + "\0");
    put(0, 100, name);
    octal(100, 8, e.type === "5" ? 0o755 : 0o644);
    octal(108, 8, 1000);
    octal(116, 8, 1000);
    octal(124, 12, e.type === "5" || e.type === "2" ? 0 : data.length);
    octal(136, 12, 1_700_000_000);
    put(156, 1, e.type ?? "0");
    put(257, 6, "ustar\0");
    put(263, 2, "00");
    put(265, 32, "user");
    put(297, 32, "user");
    put(345, 155, prefix);
    h.fill(32, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    blocks.push(h);
    if (e.type === "5" || e.type === "2") continue;
    blocks.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) blocks.push(new Uint8Array(pad));
  }
  blocks.push(new Uint8Array(1024));
  return _concat(blocks);
}

/** Gzips `bytes` with the platform's CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** A small deterministic PRNG (mulberry32) for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "Once",
  "upon",
  "a",
  "time",
  "there",
  "was",
  "little",
  "girl",
  "named",
  "Lily",
  "she",
  "loved",
  "to",
  "play",
  "with",
  "her",
  "dog",
  "in",
  "the",
  "park",
  "sun",
  "happy",
  "Tom",
  "ball",
  "big",
  "red",
];

/** One TinyStories-shaped example with the real fields. */
export function tinyStoriesExample(rand: () => number, story?: string): Record<string, unknown> {
  const words = () => WORDS[Math.floor(rand() * WORDS.length)];
  story ??= Array.from({ length: 20 + Math.floor(rand() * 40) }, words).join(" ") + ".";
  return {
    story,
    instruction: {
      prompt: `Write a short story using the words ${words()}, ${words()}.`,
      words: [words(), words(), words()],
      features: rand() < 0.5 ? ["Dialogue"] : [],
    },
    summary: `A story about ${words()}.`,
    source: "GPT-4",
  };
}

/** A JSON shard (`[ {...}, ... ]`) of `n` generated examples, as llama2.c's shards look. */
export function tinyStoriesShard(n: number, seed: number): Uint8Array {
  const rand = prng(seed);
  const items = Array.from({ length: n }, () => tinyStoriesExample(rand));
  return _enc.encode(JSON.stringify(items));
}

/** How {@link serveBytes} answers. */
export interface ServeOptions {
  /** For the i-th request, drop the connection after this many body bytes (undefined: never). */
  dropAfter?: (number | undefined)[];
  /** For the i-th request, go silent (no error, no close) after this many body bytes. */
  stallAfter?: (number | undefined)[];
  /** Answer Range requests with 206 (default true); false answers 200 with the whole body. */
  honourRange?: boolean;
  /** Send an ETag (default true). */
  etag?: boolean;
}

/** A running test server. */
export interface TestServer extends AsyncDisposable {
  /** URL of the served file. */
  url: string;
  /** The Range header of each request (null when absent). */
  ranges: (string | null)[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves `bytes` at `http://127.0.0.1:<port>/TinyStories_all_data.tar.gz` with Deno.serve on an
 * ephemeral port. Dropped connections end the body stream with an error, which closes the
 * socket before Content-Length bytes were sent.
 */
export function serveBytes(bytes: Uint8Array, opts: ServeOptions = {}): TestServer {
  const ranges: (string | null)[] = [];
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen() {},
    onError() {
      return new Response("error", { status: 500 });
    },
  }, (req) => {
    const i = ranges.length;
    const range = req.headers.get("range");
    ranges.push(range);
    const headers = new Headers({ "content-type": "application/gzip" });
    if (opts.etag ?? true) headers.set("etag", '"test-etag"');
    let start = 0;
    let status = 200;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m && (opts.honourRange ?? true)) {
      start = Number(m[1]);
      status = 206;
      headers.set("content-range", `bytes ${start}-${bytes.length - 1}/${bytes.length}`);
    }
    const body = bytes.subarray(start);
    headers.set("content-length", String(body.length));
    const stall = opts.stallAfter?.[i];
    if (stall !== undefined) {
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent) return new Promise(() => {}); // silent until the client hangs up
          sent = true;
          c.enqueue(body.slice(0, stall));
          return Promise.resolve();
        },
      });
      return new Response(stream, { status, headers });
    }
    const drop = opts.dropAfter?.[i];
    if (drop === undefined) {
      return new Response(body.slice() as Uint8Array<ArrayBuffer>, { status, headers });
    }
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(body.slice(0, drop));
          return;
        }
        // Let the first piece reach the socket before the connection is torn down.
        return new Promise((r) => setTimeout(r, 20)).then(() => c.error(new Error("drop")));
      },
    });
    return new Response(stream, { status, headers });
  });
  const url = `http://127.0.0.1:${server.addr.port}/TinyStories_all_data.tar.gz`;
  const close = async () => {
    ac.abort();
    await server.finished;
  };
  return { url, ranges, close, [Symbol.asyncDispose]: close };
}

/** Asserts byte equality; node:assert's diff of large arrays takes minutes, so report briefly. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: first difference at byte ${i}: ${actual[i]} != ${expected[i]}`);
    }
  }
}

function _concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
