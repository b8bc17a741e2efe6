/**
 * babyllama command line: `deno run -A main.ts <command> [flags]`.
 *
 * Each subcommand lives in `src/cli/<name>.ts`; this file only dispatches, prints errors as one
 * line, and sets the exit code (1 for a failed command, 2 for a wrong command line).
 *
 * @module
 */
import { type Command, commandHelp, parseCommand, UsageError } from "./src/cli/args.ts";
import { evalCommand } from "./src/cli/eval.ts";
import { encodeCommand } from "./src/cli/encode.ts";
import { downloadCommand } from "./src/cli/download.ts";
import { pretokenizeCommand } from "./src/cli/pretokenize.ts";
import { exportCommand } from "./src/cli/export.ts";
import { trainVocabCommand } from "./src/cli/train_vocab.ts";
import { trainCommand } from "./src/cli/train.ts";
import { benchCommand } from "./src/cli/bench.ts";
import { sampleCommand } from "./src/cli/sample.ts";
import { doctorCommand } from "./src/cli/doctor.ts";

const COMMANDS: Command[] = [
  downloadCommand,
  pretokenizeCommand,
  trainVocabCommand,
  encodeCommand,
  trainCommand,
  sampleCommand,
  exportCommand,
  evalCommand,
  benchCommand,
  doctorCommand,
];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "babyllama: train Baby Llama 2 (llama2.c's architecture) on TinyStories with WebGPU",
    "",
    "usage: deno run -A main.ts <command> [flags]   (each command has --help)",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

/** Runs the CLI on `args`; resolves to the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(
      `error: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")})`,
    );
    return 2;
  }
  try {
    const { values, positionals, help, given } = parseCommand(cmd.flags, rest);
    if (help) {
      console.log(commandHelp(cmd));
      return 0;
    }
    return (await cmd.run(values, positionals, given)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message} (see: babyllama ${cmd.name} --help)`);
      return 2;
    }
    if (e instanceof Error) {
      console.error(`error: ${e.message.split("\n")[0]}`);
      if (Deno.env.get("BABYLLAMA_DEBUG")) console.error(e.stack);
      return 1;
    }
    console.error(`error: ${String(e)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
