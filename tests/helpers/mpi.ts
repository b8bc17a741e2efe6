/**
 * Runs programs under Open MPI's `mpirun` for the data-parallel tests: whether it is installed
 * (CI installs `openmpi-bin`; a machine without it skips, CI fails), a launcher with a time
 * limit (a hang fails the test instead of blocking the suite), and the ability to SIGKILL one
 * rank once the output shows a given training step.
 */
import { REPO_ROOT } from "./data.ts";

/** What an mpirun (or plain) run printed and its exit code. */
export interface RunResult {
  /** Exit code (137 for SIGKILL, as the shell reports it). */
  code: number;
  /** Standard output (all ranks, as mpirun forwards it). */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Wall time in seconds. */
  seconds: number;
}

/** Options of {@link runProcess}. */
export interface RunOptions {
  /** Kill the job's rank `rank` with SIGKILL once stdout shows step `afterIter` (`N | loss`). */
  kill?: { rank: number; afterIter: number };
  /** Send `signal` to the process started (mpirun itself, or deno) once stdout shows `afterIter`. */
  signalSelf?: { afterIter: number; signal: Deno.Signal };
  /** Fail when the run takes longer (seconds, default 120). */
  timeoutS?: number;
  /** Extra environment. */
  env?: Record<string, string>;
}

function _has(cmd: string): boolean {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Whether `mpirun` (Open MPI) is available. Under `CI=true` its absence throws: CI must
 * install `openmpi-bin`.
 */
export function mpiAvailable(): boolean {
  const ok = _has("mpirun");
  if (!ok && Deno.env.get("CI") === "true") {
    throw new Error("mpirun is missing: CI must install openmpi-bin (see .ci/run)");
  }
  return ok;
}

/** mpirun's arguments for `np` ranks of `deno run -A main.ts ...args`. */
export function mpirunArgs(np: number, args: string[]): string[] {
  return ["--oversubscribe", "-np", String(np), Deno.execPath(), "run", "-A", "main.ts", ...args];
}

/** The pid of the process whose environment holds `TAG=tag` and `OMPI_COMM_WORLD_RANK=rank`. */
function _rankPid(tag: string, rank: number): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let env: string;
    try {
      env = new TextDecoder().decode(Deno.readFileSync(`/proc/${e.name}/environ`));
    } catch {
      continue;
    }
    const vars = env.split("\0");
    if (
      vars.includes(`BABYLLAMA_TEST_TAG=${tag}`) && vars.includes(`OMPI_COMM_WORLD_RANK=${rank}`)
    ) return Number(e.name);
  }
  return null;
}

/**
 * Runs `cmd args` from the repository root (`mpirun` or `deno`), collecting its output, with a
 * time limit, optionally killing one rank (or signalling the process itself) at a given step.
 *
 * @throws {Error} when the time limit passes (the job is killed first)
 */
export async function runProcess(
  cmd: string,
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const tag = crypto.randomUUID();
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      XDG_RUNTIME_DIR: "/tmp",
      OMPI_ALLOW_RUN_AS_ROOT: "1",
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
      BABYLLAMA_TEST_TAG: tag,
      // No kernel tuning (nor writes to ~/.cache) unless a test asks for it.
      BABYLLAMA_TUNE: Deno.env.get("BABYLLAMA_TUNE") ?? "off",
      // Containers often forbid the cross-process memory reads of Open MPI's shared-memory
      // transport (CMA); plain copies work everywhere.
      OMPI_MCA_btl_vader_single_copy_mechanism: "none",
      ...opts.env,
    },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, (opts.timeoutS ?? 120) * 1000);
  const dec = new TextDecoder();
  let stderr = "";
  const errDone = child.stderr.pipeTo(
    new WritableStream({ write: (c) => void (stderr += dec.decode(c, { stream: true })) }),
  );
  let stdout = "";
  let killed = false;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
    const want = opts.kill?.afterIter ?? opts.signalSelf?.afterIter;
    if (killed || want === undefined) continue;
    const m = [...stdout.matchAll(/^(\d+) \| loss/gm)].at(-1);
    if (!m || Number(m[1]) < want) continue;
    if (opts.kill) {
      const pid = _rankPid(tag, opts.kill.rank);
      if (pid === null) throw new Error(`cannot find rank ${opts.kill.rank}'s process`);
      Deno.kill(pid, "SIGKILL");
    } else child.kill(opts.signalSelf!.signal);
    killed = true;
  }
  const status = await child.status;
  clearTimeout(timer);
  await errDone.catch(() => {});
  if (timedOut) {
    throw new Error(`${cmd} ${args.join(" ")} hung (killed after ${opts.timeoutS ?? 120} s)`);
  }
  const code = status.signal === "SIGKILL" ? 137 : status.code;
  return { code, stdout, stderr, seconds: (performance.now() - t0) / 1000 };
}
