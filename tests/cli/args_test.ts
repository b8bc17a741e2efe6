/**
 * Command-line parsing: negative numbers given as a separate argument reach the flag's own
 * range check in every command instead of parseArgs' "argument is ambiguous".
 */
import assert from "node:assert/strict";
import { parseCommand, UsageError } from "../../src/cli/args.ts";
import { runMain } from "../helpers/cli.ts";

const SPECS = {
  "learning-rate": { type: "number", default: 5e-4, help: "lr" },
  prompt: { type: "string", default: "", help: "text" },
  verbose: { type: "boolean", default: false, help: "talk" },
} as const;

Deno.test("parseCommand reads a negative number given as a separate argument", () => {
  for (const v of ["-1", "-0.5", "-.5", "-1e-3"]) {
    const { values } = parseCommand(SPECS, ["--learning-rate", v]);
    assert.equal(values["learning-rate"], Number(v), v);
  }
  // reaches the flag's own check (not finite), not "argument is ambiguous"
  assert.throws(
    () => parseCommand(SPECS, ["--learning-rate", "-Infinity"]),
    /--learning-rate must be a number, got "-Infinity"/,
  );
  assert.equal(parseCommand(SPECS, ["--learning_rate", "-2"]).values["learning-rate"], -2);
  assert.equal(parseCommand(SPECS, ["--prompt", "-5 degrees"]).values.prompt, "-5 degrees");
  // the `=` form keeps working, and a boolean flag never swallows the next argument
  assert.equal(parseCommand(SPECS, ["--learning-rate=-3"]).values["learning-rate"], -3);
  assert.throws(() => parseCommand(SPECS, ["--verbose", "-1"]), UsageError);
  // a missing value is still reported as missing
  assert.throws(() => parseCommand(SPECS, ["--learning-rate"]), /needs a value/);
});

Deno.test("every command gives its range message for a negative separate argument", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--learning-rate", "-1"], /learning_rate must be >= 0, got -1/],
    [["sample", "--model", "m.bin", "--tokenizer", "t.bin", "--steps", "-1"], /--steps must be/],
    [["eval", "--model", "m.bin", "--tokens", "t.bin", "--seq-len", "-5"], /--seq-len must be/],
    [["pretokenize", "--workers", "-2"], /--workers must be an integer >= 1, got -2/],
    [["train-vocab", "--vocab-size", "-4"], /vocab-size/],
  ];
  for (const [args, want] of cases) {
    const r = await runMain(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(" "));
    assert.doesNotMatch(r.stderr, /ambiguous/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
