/** Runs `main.ts` in a subprocess, as a user would, for CLI tests. */
import { join } from "node:path";
import { REPO_ROOT } from "./data.ts";

/** What a CLI run printed and its exit code. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Runs `deno run -A main.ts ...args` from the repository root, feeding `stdin` when given, with
 * `env` added to the environment, and `BABYLLAMA_TUNE=off` unless the environment or `env` sets it
 * (no kernel tuning, nor writes to ~/.cache, unless a test asks with --tune).
 *
 * @example
 * ```ts
 * const { code, stderr } = await runMain(["eval", "--bogus"]); // code 2
 * ```
 */
export async function runMain(
  args: string[],
  stdin?: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "main.ts"), ...args],
    cwd: REPO_ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      BABYLLAMA_TUNE: Deno.env.get("BABYLLAMA_TUNE") ?? "off",
      ...env,
    },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
