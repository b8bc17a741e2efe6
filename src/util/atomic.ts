/**
 * Crash-safe file writes: a temporary file in the same directory, fsynced, then renamed over the
 * destination, so a reader never sees a half-written file.
 *
 * @module
 */
import { dirname, join } from "node:path";

/**
 * Writes `bytes` to `path` without ever leaving a half-written file: writes a temporary file
 * beside it, fsyncs it, then renames it over `path`.
 *
 * @param path destination file
 * @param bytes contents
 * @throws {Deno.errors.NotFound} (and the other OS errors) with a message naming `path`, never
 *   the temporary file; the temporary file is removed
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 *
 * await writeFileAtomic("out/model.bin", new Uint8Array(16));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${path.split(/[\\/]/).pop()}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw _nameDestination(e, path);
  }
}

/**
 * Rewrites an OS error about the temporary file so that it names `path`, the file the caller
 * asked for (`Cannot write ex/nodir/c.bin: its directory ex/nodir does not exist`), keeping the
 * error's class.
 */
function _nameDestination(e: unknown, path: string): unknown {
  if (!(e instanceof Error)) return e;
  let why: string;
  if (e instanceof Deno.errors.NotFound) why = `its directory ${dirname(path)} does not exist`;
  else if (e instanceof Deno.errors.IsADirectory) why = "it is a directory";
  else if (e instanceof Deno.errors.NotADirectory) {
    why = `a part of ${dirname(path)} is not a directory`;
  } else if (e instanceof Deno.errors.PermissionDenied) {
    why = `permission denied in ${dirname(path)}`;
  } else {
    // Deno's messages end in `: <syscall> '<temp file>'`: drop the temp file's name.
    why = e.message.split("\n")[0].replace(/: \w+ '[^']*'( -> '[^']*')?$/, "");
  }
  e.message = `Cannot write ${path}: ${why}`;
  return e;
}
