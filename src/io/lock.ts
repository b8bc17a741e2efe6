/**
 * One run per out dir: `OUT_DIR/train.lock` holds an exclusive advisory lock (flock) for as long
 * as a training run lives, and says who holds it (pid, hostname, start time, command line) so a
 * second run is refused with one line naming the first. The kernel drops the lock when the
 * process dies, however it dies, so a lock file left behind by a killed run is taken over (with a
 * note saying so) instead of blocking the directory forever.
 *
 * Under data-parallel training only the rank that writes (rank 0) takes the lock.
 *
 * @module
 */
import { join } from "node:path";

/** Name of the lock file inside the out dir. */
export const LOCK_FILE = "train.lock";

/** What the lock file records about its holder. */
export interface LockInfo {
  /** Process id of the holder. */
  pid: number;
  /** Host the holder runs on. */
  hostname: string;
  /** When the holder took the lock (ISO 8601). */
  started_at: string;
  /** The holder's command line. */
  command: string;
}

/** A held out-dir lock; release it (or let `await using` do so) when the run ends. */
export interface OutDirLock extends AsyncDisposable {
  /** The lock file. */
  readonly path: string;
  /** What this process wrote into the lock file. */
  readonly info: LockInfo;
  /** Removes the lock file and drops the lock (idempotent). */
  release(): Promise<void>;
}

/** Options of {@link lockOutDir}. */
export interface LockOptions {
  /** Where the one-line note about a taken-over stale lock goes (default console.error). */
  print?: (line: string) => void;
}

/**
 * Takes the out dir's lock (creating the directory if needed).
 *
 * @param dir the out dir
 * @param opts where notes go
 * @returns the held lock
 * @throws {Error} (one line) when another live run holds the lock, naming its pid, host and start
 *   time, or when `dir` exists and is not a directory
 * @example
 * ```ts
 * await using lock = await lockOutDir("out");
 * // ... train, writing into out/ ...
 * ```
 */
export async function lockOutDir(dir: string, opts: LockOptions = {}): Promise<OutDirLock> {
  const print = opts.print ?? ((s: string) => console.error(s));
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory) {
      throw new Error(`Cannot use out dir ${dir}: it (or a folder above it) is not a directory`);
    }
    throw e;
  }
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 10; attempt++) {
    const f = await Deno.open(path, { read: true, write: true, create: true });
    let held = false;
    try {
      const prev = _parseInfo(await _readAll(f));
      if (!(await _tryLock(f, prev))) {
        throw new Error(`Cannot train into ${dir}: ${_describe(prev)}; lock file ${path}`);
      }
      // The holder we waited behind may have removed the file: lock the file at the path.
      const [mine, now] = [await f.stat(), await Deno.stat(path).catch(() => null)];
      if (now === null || mine.ino !== now.ino || mine.dev !== now.dev) continue;
      const stale = _parseInfo(await _readAll(f));
      if (stale) {
        print(
          `note: taking over the stale lock ${path} of pid ${stale.pid} on ${stale.hostname} ` +
            `(started ${stale.started_at}), which is no longer running`,
        );
      }
      const info: LockInfo = {
        pid: Deno.pid,
        hostname: Deno.hostname(),
        started_at: new Date().toISOString(),
        command: [Deno.execPath(), ...Deno.args].join(" "),
      };
      await f.truncate(0);
      await f.seek(0, Deno.SeekMode.Start);
      const bytes = new TextEncoder().encode(JSON.stringify(info) + "\n");
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      await f.sync();
      held = true;
      return _held(f, path, info);
    } finally {
      if (!held) f.close();
    }
  }
  throw new Error(`Cannot train into ${dir}: ${path} keeps changing under another process`);
}

function _held(f: Deno.FsFile, path: string, info: LockInfo): OutDirLock {
  let open = true;
  const removeSync = () => {
    if (!open) return;
    open = false;
    globalThis.removeEventListener("unload", removeSync);
    try {
      // Remove it while still holding the lock, so nobody sees a stale file.
      const [mine, now] = [f.statSync(), Deno.statSync(path)];
      if (mine.ino === now.ino && mine.dev === now.dev) Deno.removeSync(path);
    } catch {
      // already gone
    }
    f.close();
  };
  // Deno.exit (a second Ctrl-C) still removes the file; a kill -9 leaves it, and the next run
  // takes it over.
  globalThis.addEventListener("unload", removeSync);
  const release = () => Promise.resolve(removeSync());
  return { path, info, release, [Symbol.asyncDispose]: release };
}

async function _tryLock(f: Deno.FsFile, prev: LockInfo | null): Promise<boolean> {
  try {
    return await f.tryLock(true);
  } catch {
    // No advisory locks on this file system: fall back to asking whether the pid lives.
    return !(prev && prev.pid !== Deno.pid && _alive(prev));
  }
}

function _alive(info: LockInfo): boolean {
  if (info.hostname !== Deno.hostname() || Deno.build.os !== "linux") return true;
  try {
    Deno.statSync(`/proc/${info.pid}`);
    return true;
  } catch {
    return false;
  }
}

function _describe(info: LockInfo | null): string {
  if (!info) return "another run is starting in it";
  return `it is in use by another run (pid ${info.pid} on ${info.hostname}, started ${info.started_at})`;
}

async function _readAll(f: Deno.FsFile): Promise<string> {
  await f.seek(0, Deno.SeekMode.Start);
  const dec = new TextDecoder();
  const buf = new Uint8Array(4096);
  let text = "";
  for (let n; (n = await f.read(buf)) !== null;) {
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text + dec.decode();
}

function _parseInfo(text: string): LockInfo | null {
  try {
    const j = JSON.parse(text);
    if (j && typeof j === "object" && Number.isInteger(j.pid)) {
      return {
        pid: j.pid,
        hostname: String(j.hostname ?? "?"),
        started_at: String(j.started_at ?? "?"),
        command: String(j.command ?? ""),
      };
    }
  } catch {
    // empty (being written) or not ours
  }
  return null;
}
