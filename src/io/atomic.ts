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
    throw e;
  }
}
