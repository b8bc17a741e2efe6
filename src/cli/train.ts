/**
 * `train`: train.py's training loop, every setting a flag with train.py's default.
 *
 * @module
 */
import { type Command, REQUIRE_GPU_FLAG, requireGpuOption } from "./args.ts";
import { acquireGpu } from "../gpu/device.ts";
import { TRAIN_FLAGS, trainConfigFromFlags } from "../train/config.ts";
import { train } from "../train/trainer.ts";

/** The `train` subcommand. Ctrl-C saves a checkpoint before exiting. */
export const trainCommand: Command = {
  name: "train",
  summary: "train a model on pretokenized TinyStories (train.py's loop and defaults)",
  usage:
    "[--config FILE.json] [--batch-size 128] [--max-iters 100000] ... (--batch_size=8 also works)",
  flags: { ...TRAIN_FLAGS, "require-gpu": REQUIRE_GPU_FLAG },
  async run(values, _positionals, given) {
    const cfg = trainConfigFromFlags(values, undefined, given);
    using gpu = await acquireGpu({
      verbose: cfg.device_verbose,
      requireGpu: requireGpuOption(values),
    });
    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) Deno.exit(130);
      console.error(
        "\ninterrupt: finishing this step (or this eval batch) and saving a checkpoint " +
          "(Ctrl-C again to quit now)",
      );
      abort.abort();
    };
    Deno.addSignalListener("SIGINT", onSigint);
    try {
      const res = await train(gpu, cfg, { signal: abort.signal });
      return res.interrupted ? 130 : 0;
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};
