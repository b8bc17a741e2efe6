/**
 * Whether the launcher left a rank too few cores. Open MPI's `mpirun` binds each rank to one
 * core when it starts two ranks or fewer (`--bind-to core`), to a socket above that. A rank's
 * WebGPU adapter has threads of its own (llvmpipe's rasterizer threads on a CPU adapter, the
 * driver's on a GPU), so one rank per machine bound to one core trains at about half speed on a
 * CPU adapter: measured here, 15M model, `mpirun -np 1` 4.0-4.6 s per step, `mpirun -np 1
 * --bind-to none` 2.4-2.8 s, one process 2.2-3.0 s (README, "Data-parallel training").
 *
 * @module
 */
import os from "node:os";

/** What {@link bindingWarning} looks at. */
export interface BindingFacts {
  /** Cores this process may run on (its affinity mask): `navigator.hardwareConcurrency`. */
  allowed: number;
  /** Cores of the machine: `os.cpus().length`. */
  cores: number;
  /** Ranks the launcher started on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`), if known. */
  localRanks: number | null;
}

/**
 * A one-line warning when this rank may use fewer cores than its share of the machine, else
 * null (also when the share is unknown).
 *
 * @param facts what to judge (default: this process, {@link bindingFacts})
 * @example
 * ```ts
 * import { bindingWarning } from "./binding.ts";
 *
 * bindingWarning({ allowed: 1, cores: 16, localRanks: 1 }); // "warning: this rank may use 1 of ..."
 * bindingWarning({ allowed: 8, cores: 16, localRanks: 2 }); // null
 * ```
 */
export function bindingWarning(facts: BindingFacts = bindingFacts()): string | null {
  const { allowed, cores, localRanks } = facts;
  if (localRanks === null || localRanks < 1 || !(allowed > 0) || !(cores > 0)) return null;
  const share = Math.max(1, Math.floor(cores / localRanks));
  if (allowed >= share) return null;
  return `warning: this rank may use ${allowed} of the machine's ${cores} cores (the launcher ` +
    `bound it; ${localRanks} rank${localRanks === 1 ? "" : "s"} here), and its WebGPU adapter's ` +
    `threads share ${allowed === 1 ? "that core" : "those"}: with mpirun pass --bind-to none ` +
    `(or --map-by slot:PE=${share}) to give each rank ${share}`;
}

/**
 * This process's {@link BindingFacts}: its affinity, the machine's cores, and Open MPI's count of
 * ranks on this machine.
 */
export function bindingFacts(): BindingFacts {
  let local: string | undefined;
  try {
    local = Deno.env.get("OMPI_COMM_WORLD_LOCAL_SIZE");
  } catch {
    local = undefined;
  }
  const n = Number(local);
  return {
    allowed: navigator.hardwareConcurrency,
    cores: os.cpus().length,
    localRanks: local !== undefined && Number.isInteger(n) && n > 0 ? n : null,
  };
}
