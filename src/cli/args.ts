/**
 * Shared command-line plumbing: each subcommand declares its flags once (name, type, default,
 * help), and {@link parseCommand} turns argv into typed values, prints `--help`, accepts the
 * snake_case spellings llama2.c users type (`--batch_size=8`), and rejects unknown flags with a
 * {@link UsageError} (exit code 2).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  coerceFlag,
  type FlagSpec,
  type FlagSpecs,
  type FlagValues,
  UsageError,
} from "../util/flags.ts";

// The flag plumbing lives in the leaf util/flags.ts (train/ uses it too); re-exported for commands.
export { coerceFlag, type FlagSpec, type FlagSpecs, type FlagValues, UsageError };

/** A subcommand of `main.ts`. */
export interface Command {
  /** Name typed on the command line. */
  name: string;
  /** One-line summary for the top-level help. */
  summary: string;
  /** Usage line(s) after `babyllama <name>`, e.g. `--model M.bin --tokens T.bin`. */
  usage: string;
  /** The flags. */
  flags: FlagSpecs;
  /**
   * Runs the command; resolves to the exit code (0 when void). `given` names the flags typed on
   * the command line (the rest hold their defaults), as {@link parseCommand} returns it.
   */
  run(
    values: FlagValues,
    positionals: string[],
    given: ReadonlySet<string>,
  ): Promise<number | void>;
}

/**
 * `--require-gpu`, on every command that acquires a GPU: a CPU (fallback) adapter is then an
 * error (one line, exit 1) instead of a slow run. `BABYLLAMA_REQUIRE_GPU=1` does the same.
 */
export const REQUIRE_GPU_FLAG: FlagSpec = {
  type: "boolean",
  default: false,
  help: "fail when the adapter is a CPU/fallback one (also BABYLLAMA_REQUIRE_GPU=1)",
};

/**
 * The `requireGpu` option of `acquireGpu` from parsed flags: `true` when `--require-gpu` was
 * given, else `undefined` so that `BABYLLAMA_REQUIRE_GPU` decides.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireGpuOption } from "./args.ts";
 *
 * assert.equal(requireGpuOption({ "require-gpu": true }), true);
 * assert.equal(requireGpuOption({ "require-gpu": false }), undefined); // BABYLLAMA_REQUIRE_GPU decides
 * ```
 */
export function requireGpuOption(values: FlagValues): true | undefined {
  return values["require-gpu"] === true ? true : undefined;
}

/** Help text for one command, listing every flag with its default. */
export function commandHelp(cmd: Command): string {
  const lines = [
    `babyllama ${cmd.name}: ${cmd.summary}`,
    "",
    `usage: babyllama ${cmd.name} ${cmd.usage}`,
  ];
  const names = Object.keys(cmd.flags);
  if (names.length > 0) lines.push("", "flags:");
  const width = Math.max(...names.map((n) => _flagLabel(n, cmd.flags[n]).length), 10);
  for (const n of names) {
    const s = cmd.flags[n];
    let def = "";
    if (s.required) def = " (required)";
    else if (s.default !== undefined) def = ` (default: ${s.default})`;
    lines.push(`  ${_flagLabel(n, s).padEnd(width)}  ${s.help}${def}`);
  }
  lines.push(`  ${"--help".padEnd(width)}  show this help`);
  return lines.join("\n");
}

function _flagLabel(name: string, s: FlagSpec): string {
  const short = s.short ? `-${s.short}, ` : "";
  if (s.type === "boolean") return `${short}--${name}`;
  if (Array.isArray(s.type)) return `${short}--${name} ${s.type.join("|")}`;
  return `${short}--${name} ${s.type === "number" ? "N" : "S"}`;
}

/**
 * Parses `argv` against `specs`.
 *
 * @param specs the command's flags
 * @param argv arguments after the subcommand name
 * @returns typed values (defaults filled in), positionals, whether `--help` was asked, and the
 *   names of the flags given explicitly on the command line (`given`)
 * @throws {UsageError} on an unknown flag, a missing value, a bad number or choice
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "./args.ts";
 *
 * const specs = { "batch-size": { type: "number", default: 8, help: "rows" } } as const;
 * const { values, given } = parseCommand(specs, ["--batch_size=4"]);
 * assert.equal(values["batch-size"], 4);
 * assert.ok(given.has("batch-size"));
 * ```
 */
export function parseCommand(
  specs: FlagSpecs,
  argv: string[],
): { values: FlagValues; positionals: string[]; help: boolean; given: Set<string> } {
  const normalized = argv.map((a) => {
    if (!a.startsWith("--")) return a;
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const rest = eq < 0 ? "" : a.slice(eq);
    return "--" + name.replaceAll("_", "-") + rest;
  });
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type === "boolean" ? "boolean" : "string" };
    if (s.short) options[name].short = s.short;
    if (s.type === "boolean") options[`no-${name}`] = { type: "boolean" };
  }
  // Accept `--flag=false` / `--flag=true` for booleans as train.py's configurator does.
  const pre: string[] = [];
  for (const a of _joinNegativeValues(specs, normalized)) {
    const m = /^--([^=]+)=(true|false|True|False)$/.exec(a);
    if (m && specs[m[1]]?.type === "boolean") {
      pre.push(m[2].toLowerCase() === "true" ? `--${m[1]}` : `--no-${m[1]}`);
    } else pre.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: pre, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(_cleanParseError((e as Error).message));
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: FlagValues = {};
  const given = new Set<string>();
  for (const [name, s] of Object.entries(specs)) {
    let v: string | boolean | undefined = raw[name];
    if (s.type === "boolean" && raw[`no-${name}`]) v = false;
    if (v !== undefined) given.add(name);
    values[name] = v === undefined ? s.default : coerceFlag(name, s, v);
  }
  if (!raw.help) {
    for (const [name, s] of Object.entries(specs)) {
      if (s.required && values[name] === undefined) {
        throw new UsageError(`missing required flag --${name}`);
      }
    }
  }
  return { values, positionals: parsed.positionals, help: Boolean(raw.help), given };
}

/** A negative number as its own argument: `-1`, `-0.5`, `-.5`, `-1e-3`, `-Infinity`. */
const _NEGATIVE = /^-(?:\d|\.\d|Infinity$)/;

/**
 * Joins a value-taking flag and a negative number that follows it as a separate argument
 * (`--learning-rate -1` becomes `--learning-rate=-1`), which node:util's parseArgs would
 * otherwise reject as "argument is ambiguous". Boolean flags and unknown names are left alone.
 */
function _joinNegativeValues(specs: FlagSpecs, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = argv[i + 1];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)$/.exec(a);
    const spec = m ? specs[m[1]] : undefined;
    if (spec && spec.type !== "boolean" && next !== undefined && _NEGATIVE.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function _cleanParseError(msg: string): string {
  const m = /Unknown option '([^']+)'/.exec(msg);
  if (m) return `unknown flag ${m[1]}`;
  const first = msg.split("\n")[0];
  return first.replace(/^Option '([^']+)' argument missing$/, "flag $1 needs a value");
}
