/**
 * Which {@link Communicator} this process gets: Open MPI when a launcher started it (or `--ddp`
 * asks), else a single process.
 *
 * @module
 */
import { type Communicator, SingleProcess } from "./comm.ts";
import { OpenMpi } from "./mpi.ts";

/** Options of {@link openCommunicator}. */
export interface OpenOptions {
  /** Use MPI even when no launcher is detected (`--ddp`). */
  force?: boolean;
  /** Environment to inspect (default `Deno.env`); for tests. */
  env?: { get(name: string): string | undefined };
}

/**
 * The launcher that started this process, if any: Open MPI's `mpirun` sets
 * `OMPI_COMM_WORLD_SIZE`; PMIx launchers (Open MPI 5's `prterun`, Slurm's `srun --mpi=pmix`)
 * set `PMIX_RANK`.
 *
 * @returns the variable that revealed the launcher (`NAME=value`), or null
 */
export function detectLauncher(
  env: { get(name: string): string | undefined } = Deno.env,
): string | null {
  for (const name of ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]) {
    const v = env.get(name);
    if (v !== undefined && v !== "") return `${name}=${v}`;
  }
  return null;
}

/**
 * Opens the communicator for this process: Open MPI when a launcher is detected
 * ({@link detectLauncher}) or `force` is set, else {@link SingleProcess}.
 *
 * @throws {Error} when MPI is wanted but `libmpi` cannot be loaded (the message says how to
 *   install Open MPI) or FFI is not permitted
 * @example
 * ```ts
 * const comm = openCommunicator({ force: false });
 * try {
 *   console.log(`rank ${comm.rank} of ${comm.size}`);
 * } finally {
 *   comm.finalize();
 * }
 * ```
 */
export function openCommunicator(opts: OpenOptions = {}): Communicator {
  let launcher: string | null = null;
  try {
    launcher = detectLauncher(opts.env ?? Deno.env);
  } catch {
    // no env permission: no launcher can be detected
  }
  if (!opts.force && launcher === null) return new SingleProcess();
  return OpenMpi.init({ reason: launcher ?? "--ddp" });
}
