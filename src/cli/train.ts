/**
 * `train`: train.py's training loop, every setting a flag with train.py's default. Under
 * `mpirun` (or with `--ddp`) each process is one rank of a data-parallel run (Open MPI, see
 * `src/train/ddp.ts`).
 *
 * @module
 */
import {
  type Command,
  type FlagSpecs,
  type FlagValues,
  REQUIRE_GPU_FLAG,
  requireGpuOption,
} from "./args.ts";
import { acquireGpu } from "../gpu/device.ts";
import { TRAIN_FLAGS, trainConfigFromFlags } from "../train/config.ts";
import { train } from "../train/trainer.ts";
import { agreeOnError, CollectiveError, type Communicator } from "../dist/comm.ts";
import { openCommunicator } from "../dist/open.ts";
import { bindingWarning } from "../dist/binding.ts";
import { exitOnTerminate } from "../dist/signals.ts";
import { configureTuner, TUNE_FLAGS, tuneMode } from "./tune.ts";

const FLAGS: FlagSpecs = {
  ...TRAIN_FLAGS,
  "require-gpu": REQUIRE_GPU_FLAG,
  ddp: {
    type: "boolean",
    default: false,
    help: "data-parallel over Open MPI even without a launcher (automatic under mpirun)",
  },
  ...TUNE_FLAGS,
};

/** The `train` subcommand. Ctrl-C saves a checkpoint before exiting. */
export const trainCommand: Command = {
  name: "train",
  summary: "train a model on pretokenized TinyStories (train.py's loop and defaults)",
  usage:
    "[--config FILE.json] [--batch-size 128] [--max-iters 100000] ... (--batch_size=8 also works)",
  flags: FLAGS,
  async run(values, _positionals, given) {
    const comm = openCommunicator({ force: values.ddp === true });
    if (comm.backend === "single") return await _train(comm, values, given);
    const removeTerm = exitOnTerminate();
    try {
      const code = await _train(comm, values, given);
      await comm.barrier(); // rank 0 may still be writing: no rank exits before it is done
      comm.finalize();
      return code;
    } catch (e) {
      return await _endRank(comm, e);
    } finally {
      removeTerm();
    }
  },
};

async function _train(
  comm: Communicator,
  values: FlagValues,
  given: ReadonlySet<string>,
): Promise<number> {
  let cfg;
  if (comm.backend === "single") cfg = trainConfigFromFlags(values, undefined, given);
  else {
    let err: unknown = null;
    try {
      cfg = trainConfigFromFlags(values, undefined, given);
    } catch (e) {
      err = e;
    }
    await agreeOnError(comm, err);
  }
  using gpu = await acquireGpu({
    verbose: cfg!.device_verbose,
    requireGpu: requireGpuOption(values),
  });
  // Ranks tuning at once would time each other's load and could pick differently: with several
  // ranks, `full` reads the cache only (every rank the same file, so the same picks).
  let mode = tuneMode(values);
  if (comm.size > 1 && mode === "full") {
    mode = "cached";
    if (comm.rank === 0) {
      console.error("tune: data-parallel ranks do not tune; using the cache (--tune cached)");
    }
  }
  await configureTuner(gpu, values, mode);
  if (comm.backend !== "single" && comm.rank === 0) {
    const w = bindingWarning();
    if (w) console.error(w);
  }
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) Deno.exit(130);
    if (comm.backend === "single") {
      console.error(
        "\ninterrupt: finishing this step (or this eval batch) and saving a checkpoint " +
          "(Ctrl-C again to quit now)",
      );
    } else if (comm.rank === 0) {
      console.error("\ninterrupt: finishing this step on every rank and saving a checkpoint");
    }
    abort.abort();
  };
  // mpirun turns Ctrl-C into SIGTERM for the ranks; it forwards SIGUSR2 (`kill -USR2 <mpirun>`).
  const signals: Deno.Signal[] = comm.backend === "single" ? ["SIGINT"] : ["SIGINT", "SIGUSR2"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    const res = await train(gpu, cfg!, { signal: abort.signal, comm });
    return res.interrupted ? 130 : 0;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

/**
 * Ends this rank after an error. An error every rank has ({@link CollectiveError}) is printed
 * once, by rank 0, and every rank exits after a barrier (so the line is out before the launcher
 * reacts to the exit codes); any other error is printed by its rank, which then aborts the job
 * (MPI_Abort) so that no rank waits forever for it.
 */
async function _endRank(comm: Communicator, e: unknown): Promise<number> {
  if (e instanceof CollectiveError) {
    const usage = e.origin === "UsageError";
    if (comm.rank === 0) {
      console.error(`error: ${e.message}${usage ? " (see: babyllama train --help)" : ""}`);
    }
    await comm.barrier();
    comm.finalize();
    return usage ? 2 : 1;
  }
  if (comm.size === 1) {
    comm.finalize();
    throw e;
  }
  const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
  console.error(`error: ${msg} (on rank ${comm.rank})`);
  if (e instanceof Error && Deno.env.get("BABYLLAMA_DEBUG")) console.error(e.stack);
  return comm.abort(1);
}
