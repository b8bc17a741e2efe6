/**
 * Random training windows from pretokenized shards, as llama2.c's `PretokDataset`: the shards
 * are `DATA_DIR/TinyStories_all_data/*.bin` (Llama 2 vocabulary) or `DATA_DIR/tok{N}/*.bin` (a
 * custom vocabulary of N tokens), each a flat array of uint16 little-endian token ids, sorted
 * by name; shard 0 is the validation split, the others the training split.
 *
 * Each batch row is a random shard of the split, then a random start in
 * `[0, len - (T + 1)]`; the row's T + 1 tokens give the inputs x (first T) and the targets y
 * (last T). Both choices come from one seeded {@link Xoshiro128} per split whose state a
 * checkpoint saves.
 *
 * Shards are memory-mapped (Deno FFI `mmap` of libc on Linux and macOS; needs `--allow-ffi`) so
 * that nothing but the sampled windows is read; elsewhere, or without FFI permission, windows
 * are read with positioned reads (`seek` + `read`). Whole shards never enter the JS heap.
 *
 * @module
 */
import { join } from "node:path";
import { Xoshiro128 } from "../util/rng.ts";

/** A data split: shard 0 is `val`, the rest `train`. */
export type Split = "train" | "val";

/** Where shards come from. */
export interface DatasetOptions {
  /** Directory holding `TinyStories_all_data/` or `tok{N}/` (train.py's `data_dir`). */
  dataDir: string;
  /** `llama2` or `custom` (train.py's `vocab_source`). */
  vocabSource: "llama2" | "custom";
  /** Vocabulary size; names the `tok{N}` directory for custom vocabularies. */
  vocabSize: number;
  /** Seed of the batch sampler (each split has its own stream). */
  seed: number;
  /**
   * `mmap` (default where available), or `pread` for positioned reads. `mmap` falls back to
   * `pread` when FFI is unavailable; asking for `mmap` explicitly then throws.
   */
  access?: "auto" | "mmap" | "pread";
}

/** The sampler's state for both splits, saved in checkpoints. */
export interface DatasetRngState {
  /** State of the training split's generator. */
  train: number[];
  /** State of the validation split's generator. */
  val: number[];
}

/** Where a batch is written: `x` and `y` hold B·T tokens each, row-major. */
export interface BatchBuffers {
  /** Input token ids, B·T. */
  x: Uint32Array;
  /** Target token ids (x shifted by one), B·T. */
  y: Int32Array;
}

/** One open shard. */
interface _Shard {
  path: string;
  /** Tokens in the shard. */
  length: number;
  /** Reads tokens [start, start + out.length) into out. */
  read(start: number, out: Uint16Array): void;
  close(): void;
}

/** The shard directory for a vocabulary, relative to data_dir. */
export function shardDirectory(
  dataDir: string,
  vocabSource: "llama2" | "custom",
  vocabSize: number,
): string {
  return vocabSource === "llama2"
    ? join(dataDir, "TinyStories_all_data")
    : join(dataDir, `tok${vocabSize}`);
}

/**
 * Lists the `*.bin` shards of a vocabulary, sorted by name.
 *
 * @throws {Error} naming the directory searched and the commands that create the shards, when
 *   there are none
 */
export function listShards(
  dataDir: string,
  vocabSource: "llama2" | "custom",
  vocabSize: number,
): string[] {
  const dir = shardDirectory(dataDir, vocabSource, vocabSize);
  const files: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.endsWith(".bin") && (e.isFile || e.isSymlink)) files.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (files.length === 0) {
    const how = vocabSource === "llama2"
      ? `run \`deno run -A main.ts download --data-dir ${dataDir}\` then ` +
        `\`deno run -A main.ts pretokenize --data-dir ${dataDir}\``
      : `run \`deno run -A main.ts train-vocab --vocab-size ${vocabSize} --data-dir ${dataDir}\` ` +
        `then \`deno run -A main.ts pretokenize --vocab-size ${vocabSize} --data-dir ${dataDir}\``;
    throw new Error(`Cannot find token shards: no *.bin files in ${dir} (${how})`);
  }
  return files.sort();
}

// --- shard access -------------------------------------------------------------------------

const _LIBC_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type _Libc = Deno.DynamicLibrary<typeof _LIBC_SYMBOLS>;
let _libc: _Libc | null | undefined;

/** libc through FFI, or null when FFI or libc is unavailable. */
function _loadLibc(): _Libc | null {
  if (_libc !== undefined) return _libc;
  _libc = null;
  const names = Deno.build.os === "linux"
    ? ["libc.so.6"]
    : Deno.build.os === "darwin"
    ? ["/usr/lib/libSystem.B.dylib"]
    : [];
  for (const name of names) {
    try {
      _libc = Deno.dlopen(name, _LIBC_SYMBOLS);
      break;
    } catch {
      // no FFI permission, or no such library
    }
  }
  return _libc;
}

/** Whether shards can be memory-mapped in this process. */
export function mmapAvailable(): boolean {
  return _loadLibc() !== null;
}

function _checkSize(path: string, bytes: number): number {
  if (bytes % 2 !== 0) {
    throw new SyntaxError(
      `Cannot read token shard ${path}: its size ${bytes} is odd (uint16 tokens expected)`,
    );
  }
  return bytes / 2;
}

function _openMmap(libc: _Libc, path: string): _Shard {
  const bytes = Deno.statSync(path).size;
  const length = _checkSize(path, bytes);
  if (bytes === 0) return _emptyShard(path);
  const fd = libc.symbols.open(new TextEncoder().encode(path + "\0"), 0 /* O_RDONLY */);
  if (fd < 0) throw new Error(`Cannot open token shard ${path}: open() failed`);
  const PROT_READ = 1, MAP_PRIVATE = 2;
  const ptr = libc.symbols.mmap(null, BigInt(bytes), PROT_READ, MAP_PRIVATE, fd, 0n);
  libc.symbols.close(fd); // the mapping keeps the file
  const addr = ptr === null ? 0n : Deno.UnsafePointer.value(ptr);
  if (ptr === null || addr === 0n || addr === 0xffffffffffffffffn) {
    throw new Error(`Cannot memory-map token shard ${path}: mmap() failed`);
  }
  const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(ptr, bytes));
  let open = true;
  return {
    path,
    length,
    read(start, out) {
      for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * (start + i), true);
    },
    close() {
      if (open) libc.symbols.munmap(ptr, BigInt(bytes));
      open = false;
    },
  };
}

function _openPread(path: string): _Shard {
  const file = Deno.openSync(path, { read: true });
  const length = _checkSize(path, file.statSync().size);
  const bytes = new Uint8Array(0x10000);
  return {
    path,
    length,
    read(start, out) {
      const need = out.length * 2;
      const buf = need <= bytes.length ? bytes.subarray(0, need) : new Uint8Array(need);
      file.seekSync(start * 2, Deno.SeekMode.Start);
      let got = 0;
      while (got < need) {
        const n = file.readSync(buf.subarray(got));
        if (n === null || n === 0) {
          throw new Error(`Cannot read token shard ${path}: it ended early (was it truncated?)`);
        }
        got += n;
      }
      const view = new DataView(buf.buffer, buf.byteOffset, need);
      for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true);
    },
    close() {
      try {
        file.close();
      } catch {
        // already closed
      }
    },
  };
}

function _emptyShard(path: string): _Shard {
  return {
    path,
    length: 0,
    read() {
      throw new RangeError(`Cannot read token shard ${path}: it is empty`);
    },
    close() {},
  };
}

// --- the dataset --------------------------------------------------------------------------

/**
 * Pretokenized shards with a seeded random-window batch sampler.
 *
 * @example
 * ```ts
 * import { PretokDataset } from "./dataset.ts";
 *
 * using ds = PretokDataset.open({ dataDir: "data", vocabSource: "llama2", vocabSize: 32000, seed: 1337 });
 * const B = 8, T = 256;
 * const batch = { x: new Uint32Array(B * T), y: new Int32Array(B * T) };
 * ds.nextBatch("train", B, T, batch);
 * const saved = ds.rngState(); // store in the checkpoint; later: ds.setRngState(saved)
 * ```
 */
export class PretokDataset implements Disposable {
  /** `mmap` or `pread`: how windows are read. */
  readonly access: "mmap" | "pread";
  /** Directory the shards came from. */
  readonly directory: string;
  #shards: Record<Split, _Shard[]>;
  #rng: Record<Split, Xoshiro128>;
  #window: Uint16Array = new Uint16Array(0);
  #checkedT: Record<Split, number> = { train: 0, val: 0 };
  #vocabSize: number;

  private constructor(
    access: "mmap" | "pread",
    directory: string,
    shards: Record<Split, _Shard[]>,
    seed: number,
    vocabSize: number,
  ) {
    this.access = access;
    this.directory = directory;
    this.#shards = shards;
    this.#rng = { train: Xoshiro128.fromSeed(seed, 0), val: Xoshiro128.fromSeed(seed, 1) };
    this.#vocabSize = vocabSize;
  }

  /**
   * Opens every shard of the vocabulary.
   *
   * @throws {Error} when there are no shards (naming the directory and the commands that make
   *   them), or only one (no training split)
   * @throws {SyntaxError} for a shard of odd size
   */
  static open(opts: DatasetOptions): PretokDataset {
    const paths = listShards(opts.dataDir, opts.vocabSource, opts.vocabSize);
    const dir = shardDirectory(opts.dataDir, opts.vocabSource, opts.vocabSize);
    if (paths.length < 2) {
      throw new Error(
        `Cannot split token shards: ${dir} holds one shard; shard 0 is validation, so training ` +
          `needs at least two`,
      );
    }
    return PretokDataset.fromFiles(paths, opts.seed, opts.access, opts.vocabSize, dir);
  }

  /**
   * Opens explicit shard files: `paths[0]` is validation, the rest training (a single path
   * serves both splits).
   *
   * @param vocabSize token ids at or above it are reported as corrupt data
   */
  static fromFiles(
    paths: string[],
    seed: number,
    access: "auto" | "mmap" | "pread" = "auto",
    vocabSize = 65536,
    directory = "",
  ): PretokDataset {
    if (paths.length === 0) throw new TypeError("Cannot open a dataset: no shard files given");
    const libc = access === "pread" ? null : _loadLibc();
    if (access === "mmap" && libc === null) {
      throw new Error(
        "Cannot memory-map token shards: FFI is unavailable (run with --allow-ffi on Linux or macOS)",
      );
    }
    const mode = libc ? "mmap" : "pread";
    const opened: _Shard[] = [];
    try {
      for (const p of paths) opened.push(libc ? _openMmap(libc, p) : _openPread(p));
    } catch (e) {
      for (const s of opened) s.close();
      throw e;
    }
    const shards = {
      val: [opened[0]],
      train: opened.length > 1 ? opened.slice(1) : [opened[0]],
    };
    return new PretokDataset(mode, directory, shards, seed, vocabSize);
  }

  /** Number of shards in a split. */
  shardCount(split: Split): number {
    return this.#shards[split].length;
  }

  /** Tokens in a split (all its shards). */
  tokenCount(split: Split): number {
    return this.#shards[split].reduce((a, s) => a + s.length, 0);
  }

  /**
   * Fills `into` with B random windows of T + 1 tokens from `split`: row b of x is tokens
   * `[start, start + T)` of a random shard, row b of y is `[start + 1, start + T + 1)`.
   *
   * @throws {RangeError} when B or T is not a positive integer, a buffer is shorter than B·T,
   *   a shard of the split is shorter than T + 1 tokens, or a token id is >= vocab size
   */
  nextBatch(split: Split, B: number, T: number, into: BatchBuffers): void {
    this.#sample(split, B, T, into);
  }

  /**
   * Draws the same B windows {@link PretokDataset.nextBatch} would, without reading them: the
   * sampler advances exactly as if the batch had been read (data-parallel ranks share one
   * stream of windows and each reads only its own).
   *
   * @throws {RangeError} as {@link PretokDataset.nextBatch}, except for token ids (not read)
   */
  skipBatch(split: Split, B: number, T: number): void {
    this.#sample(split, B, T, null);
  }

  #sample(split: Split, B: number, T: number, into: BatchBuffers | null): void {
    if (!Number.isSafeInteger(B) || B <= 0 || !Number.isSafeInteger(T) || T <= 0) {
      throw new RangeError(
        `Cannot sample a batch: B (${B}) and T (${T}) must be positive integers`,
      );
    }
    if (into && (into.x.length < B * T || into.y.length < B * T)) {
      throw new RangeError(
        `Cannot sample a batch: x and y need ${
          B * T
        } elements, got ${into.x.length} and ${into.y.length}`,
      );
    }
    const shards = this.#shards[split];
    if (shards.length === 0) throw new Error("Cannot sample a batch: the dataset is closed");
    if (this.#checkedT[split] !== T) {
      for (const s of shards) {
        if (s.length < T + 1) {
          throw new RangeError(
            `Cannot sample a window of ${T + 1} tokens: shard ${s.path} has only ${s.length}`,
          );
        }
      }
      this.#checkedT[split] = T;
    }
    if (this.#window.length < T + 1) this.#window = new Uint16Array(T + 1);
    const w = this.#window.subarray(0, T + 1);
    const rng = this.#rng[split];
    for (let b = 0; b < B; b++) {
      const shard = shards[rng.nextInt(shards.length)];
      const start = rng.nextInt(shard.length - T);
      if (!into) continue;
      shard.read(start, w);
      const o = b * T;
      for (let t = 0; t < T; t++) {
        into.x[o + t] = w[t];
        into.y[o + t] = w[t + 1];
      }
      for (let t = 0; t <= T; t++) {
        if (w[t] >= this.#vocabSize) {
          throw new RangeError(
            `Cannot use token ${w[t]} at ${
              start + t
            } of ${shard.path}: vocab size is ${this.#vocabSize}`,
          );
        }
      }
    }
  }

  /** Both splits' sampler states (JSON-friendly), for checkpoints. */
  rngState(): DatasetRngState {
    return { train: this.#rng.train.state(), val: this.#rng.val.state() };
  }

  /**
   * Restores sampler states saved by {@link PretokDataset.rngState}.
   *
   * @throws {TypeError} for a malformed state
   */
  setRngState(state: DatasetRngState): void {
    if (state === null || typeof state !== "object") {
      throw new TypeError("Cannot restore the batch sampler: state must be {train, val}");
    }
    const train = Xoshiro128.fromState(state.train), val = Xoshiro128.fromState(state.val);
    this.#rng = { train, val };
  }

  /** Restarts one split's sampler from a seed (e.g. the same validation batches every eval). */
  reseed(split: Split, seed: number): void {
    this.#rng[split] = Xoshiro128.fromSeed(seed, split === "train" ? 0 : 1);
  }

  /** Unmaps or closes every shard. */
  close(): void {
    const all = new Set([...this.#shards.train, ...this.#shards.val]);
    for (const s of all) s.close();
    this.#shards = { train: [], val: [] };
  }

  /** Same as {@link PretokDataset.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
