/**
 * The `--tune` and `--tune-cache` flags shared by `train`, `sample`, `eval` and `bench`, and
 * the tuner set-up they do before building a model.
 *
 * @module
 */
import { type FlagSpecs, type FlagValues, UsageError } from "./args.ts";
import type { Gpu } from "../gpu/device.ts";
import {
  defaultTuneCachePath,
  TUNE_MODES,
  type TuneFamily,
  type TuneMode,
  tunerFor,
} from "../gpu/tune.ts";
import * as attention from "../ops/attention.ts";
import * as crossentropy from "../ops/crossentropy.ts";
import * as matmul from "../ops/matmul.ts";

function _isFamily(x: unknown): x is TuneFamily<never> {
  const f = x as TuneFamily<never>;
  return typeof f === "object" && f !== null && typeof f.name === "string" &&
    typeof f.sourceHash === "string" && typeof f.candidates === "function";
}

/**
 * Every tunable kernel family's current source hash, by family name: what `doctor` and
 * `tools/ship_tuning.ts` compare cached and shipped entries with (an entry with another hash is
 * stale, and the tuner ignores it). Collected from the exports of the ops modules that have
 * families (tests/cli/tune_test.ts checks that none is missed).
 */
export const TUNE_FAMILY_HASHES: Readonly<Record<string, string>> = Object.fromEntries(
  [attention, crossentropy, matmul].flatMap((m) => Object.values(m).filter(_isFamily))
    .map((f) => [f.name, f.sourceHash]),
);

/** The tuner's flags. */
export const TUNE_FLAGS: FlagSpecs = {
  tune: {
    type: TUNE_MODES,
    help: "kernel variants: full = time and cache what the cache lacks, cached = cache or " +
      "defaults, off = fixed defaults per adapter class (default: $BABYLLAMA_TUNE, else full)",
  },
  "tune-cache": {
    type: "string",
    help: "tuning cache file (default: $BABYLLAMA_TUNE_CACHE, else " +
      "$XDG_CACHE_HOME/babyllama/tune.json or ~/.cache/babyllama/tune.json)",
  },
};

/**
 * The tune mode: `--tune`, else `$BABYLLAMA_TUNE`, else `full`.
 *
 * @throws {UsageError} when `$BABYLLAMA_TUNE` is not a mode
 */
export function tuneMode(values: FlagValues): TuneMode {
  if (values.tune !== undefined) return values.tune as TuneMode;
  let env: string | undefined;
  try {
    env = Deno.env.get("BABYLLAMA_TUNE") || undefined;
  } catch {
    env = undefined;
  }
  if (env === undefined) return "full";
  if (!TUNE_MODES.includes(env as TuneMode)) {
    throw new UsageError(`BABYLLAMA_TUNE must be one of ${TUNE_MODES.join("|")}, got '${env}'`);
  }
  return env as TuneMode;
}

/**
 * Configures `tunerFor(gpu)` from the flags (mode and cache file).
 *
 * @param gpu the device
 * @param values parsed flags (`--tune`, `--tune-cache`)
 * @param mode the mode to use instead of the flags' (default {@link tuneMode})
 * @returns the mode
 */
export async function configureTuner(
  gpu: Gpu,
  values: FlagValues,
  mode: TuneMode = tuneMode(values),
): Promise<TuneMode> {
  const cachePath = (values["tune-cache"] as string | undefined) ?? defaultTuneCachePath();
  await tunerFor(gpu).configure({ mode, cachePath });
  return mode;
}
