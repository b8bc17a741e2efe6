/**
 * Flag specs and their values, shared by the command line (`src/cli/`) and the training
 * settings (`src/train/config.ts`): a flag's declaration ({@link FlagSpec}), the conversion of a
 * raw value from argv or a JSON config file to the flag's type ({@link coerceFlag}), and the
 * error a wrong value raises ({@link UsageError}, which the CLI prints as one line and exits 2).
 * A leaf module: it imports nothing, so `train/` does not depend on `cli/`.
 *
 * @module
 */

/** A wrong command line: the CLI prints the message as one line and exits with code 2. */
export class UsageError extends Error {
  /** @param message what is wrong, one line */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One flag of a subcommand. */
export interface FlagSpec {
  /** `string`, `number`, `boolean` (`--x`, `--x=false`, `--no-x`) or a list of choices. */
  type: "string" | "number" | "boolean" | readonly string[];
  /** Default value shown in `--help`; `undefined` means optional with no default. */
  default?: string | number | boolean;
  /** One-line description for `--help`. */
  help: string;
  /** A required flag has no default and must be given. */
  required?: boolean;
  /** One-letter alias. */
  short?: string;
}

/** The flags of a subcommand, keyed by kebab-case name. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed flag values keyed by kebab-case name. */
export type FlagValues = Record<string, string | number | boolean | undefined>;

/**
 * Converts one raw flag value (from argv or a JSON config) to the flag's type.
 *
 * @throws {UsageError} when the value does not fit the flag's type
 */
export function coerceFlag(name: string, s: FlagSpec, v: unknown): string | number | boolean {
  if (s.type === "boolean") {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "True") return true;
    if (v === "false" || v === "False") return false;
    throw new UsageError(`--${name} must be true or false, got ${JSON.stringify(v)}`);
  }
  if (s.type === "number") {
    const n = typeof v === "number"
      ? v
      : typeof v === "string" && v.trim() !== ""
      ? Number(v)
      : NaN;
    if (!Number.isFinite(n)) {
      throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
    }
    return n;
  }
  if (typeof v !== "string") {
    throw new UsageError(`--${name} must be a string, got ${JSON.stringify(v)}`);
  }
  if (Array.isArray(s.type) && !s.type.includes(v)) {
    throw new UsageError(`--${name} must be one of ${s.type.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v;
}
