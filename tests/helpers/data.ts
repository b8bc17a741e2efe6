/**
 * Finds the shared data files tests need, in this order:
 * 1. `$BABYLLAMA_DATA_DIR/<name>` when that variable is set,
 * 2. `../shared/data/<name>` beside the repository (CI and developer machines have it),
 * 3. a download from the file's public source into `~/.cache/babyllama/` (a user's fresh clone).
 * Under `CI=true` a file that cannot be found is a test failure, never a silent skip.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Public sources for files that have one. */
const SOURCES: Record<string, string> = {
  "tokenizer.model": "https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.model",
  "tokenizer.bin": "https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.bin",
  "stories260K.bin":
    "https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin",
};

function _exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** Absolute path of the repository root. */
export const REPO_ROOT: string = ROOT;

/**
 * Path of a shared data file, or `null` when it is unavailable outside CI (the caller then
 * skips with `ignore`). Under `CI=true` a missing file throws.
 */
export async function sharedFile(name: string): Promise<string | null> {
  const env = Deno.env.get("BABYLLAMA_DATA_DIR");
  const candidates = [
    ...(env ? [join(env, name)] : []),
    join(ROOT, "..", "shared", "data", name),
  ];
  for (const c of candidates) if (_exists(c)) return c;
  const url = SOURCES[name];
  const cacheDir = join(Deno.env.get("HOME") ?? "/tmp", ".cache", "babyllama");
  const cached = join(cacheDir, name);
  if (_exists(cached)) return cached;
  if (url) {
    try {
      const res = await fetch(url);
      if (res.ok) {
        await Deno.mkdir(cacheDir, { recursive: true });
        const tmp = cached + ".part";
        await Deno.writeFile(tmp, new Uint8Array(await res.arrayBuffer()));
        await Deno.rename(tmp, cached);
        return cached;
      }
      await res.body?.cancel();
    } catch {
      // fall through
    }
  }
  if (Deno.env.get("CI") === "true") {
    throw new Error(
      `Cannot find shared data file ${name}: looked in ${candidates.join(", ")}${
        url ? ` and ${url}` : ""
      }`,
    );
  }
  return null;
}

/** Path of a file under `../shared/fixtures` (same lookup rules, no download). */
export async function sharedFixture(name: string): Promise<string | null> {
  const p = join(ROOT, "..", "shared", "fixtures", name);
  if (_exists(p)) return p;
  if (Deno.env.get("CI") === "true") throw new Error(`Cannot find shared fixture ${name} at ${p}`);
  return await Promise.resolve(null);
}
