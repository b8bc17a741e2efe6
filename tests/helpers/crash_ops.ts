/**
 * Failure injection for crash tests: wraps the file operations a save is made of (`Deno.rename`,
 * `Deno.remove`, `FsFile.sync`) so that a callback runs right after each one completes and can
 * throw (an I/O error) or SIGKILL the process (a crash). No hook in the code under test: the same
 * test runs against any version of it.
 */

/**
 * Calls `after(op)` after every rename, remove and fsync until the returned function restores
 * the originals. `op` reads `rename .ckpt.json.123.abcd.tmp -> ckpt.json`, `remove x`, `fsync`.
 */
export function afterFileOps(after: (op: string) => void): () => void {
  const D = Deno as unknown as Record<string, unknown>;
  const rename = Deno.rename, remove = Deno.remove, sync = Deno.FsFile.prototype.sync;
  const base = (p: string | URL) => String(p).split("/").pop();
  D.rename = async (a: string | URL, b: string | URL) => {
    await rename(a, b);
    after(`rename ${base(a)} -> ${base(b)}`);
  };
  D.remove = async (p: string | URL, o?: Deno.RemoveOptions) => {
    await remove(p, o);
    after(`remove ${base(p)}`);
  };
  Deno.FsFile.prototype.sync = async function (this: Deno.FsFile) {
    await sync.call(this);
    after("fsync");
  };
  return () => {
    D.rename = rename;
    D.remove = remove;
    Deno.FsFile.prototype.sync = sync;
  };
}
