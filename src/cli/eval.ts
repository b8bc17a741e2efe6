/**
 * `eval`: mean cross-entropy of a model over a token file's consecutive windows.
 *
 * @module
 */
import type { Command } from "./args.ts";

/** The `eval` subcommand. */
export const evalCommand: Command = {
  name: "eval",
  summary: "mean cross-entropy of a llama2.c model over a uint16 token file",
  usage: "--model M.bin --tokens T.bin --seq-len S [--batch-size B]",
  flags: {
    model: {
      type: "string",
      required: true,
      help: "llama2.c model (.bin, legacy v0 or version 1)",
    },
    tokens: { type: "string", required: true, help: "uint16 little-endian token file" },
    "seq-len": { type: "number", required: true, help: "window length S (<= the model's seq_len)" },
    "batch-size": { type: "number", default: 8, help: "windows per forward pass" },
    verbose: { type: "boolean", default: false, help: "print the adapter and progress on stderr" },
  },
  run() {
    throw new Error("Cannot run eval: not implemented yet");
  },
};
