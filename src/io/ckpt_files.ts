/**
 * The file names of checkpoint generations, and the clean-up after a save.
 *
 * Each save writes its tensors under a new name, `ckpt-<generation>.safetensors` (generation 1,
 * 2, ... zero-padded to six digits), so the tensors of the checkpoint `ckpt.json` describes are
 * never overwritten: `ckpt.json`, renamed into place last, is the one pointer that switches from
 * the previous complete pair to the new one. Older tensors files are removed only after that.
 * Out dirs written before generations hold `ckpt.safetensors` (generation 0).
 *
 * @module
 */
import { join } from "node:path";

/** Tensors file name of out dirs written before checkpoint generations. */
export const LEGACY_TENSORS_FILE = "ckpt.safetensors";

const _GEN = /^ckpt-(\d{6,})\.safetensors$/;

/**
 * The tensors file name of a generation.
 *
 * @example
 * ```ts
 * tensorsFileName(3); // "ckpt-000003.safetensors"
 * ```
 */
export function tensorsFileName(generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new RangeError(`Cannot name checkpoint generation ${generation}: need an integer >= 1`);
  }
  return `ckpt-${String(generation).padStart(6, "0")}.safetensors`;
}

/**
 * The generation a tensors file name stands for: N for `ckpt-N.safetensors`, 0 for the legacy
 * `ckpt.safetensors`, `null` for any other name (so `ckpt.json` cannot point elsewhere).
 *
 * @example
 * ```ts
 * tensorsFileGeneration("ckpt-000003.safetensors"); // 3
 * tensorsFileGeneration("../x.safetensors"); // null
 * ```
 */
export function tensorsFileGeneration(name: string): number | null {
  if (name === LEGACY_TENSORS_FILE) return 0;
  const m = _GEN.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * The next generation for a save into `dir`: one more than every generation whose tensors file
 * is present (a file left by an interrupted save included), so a save never overwrites one.
 *
 * @example
 * ```ts
 * const gen = await nextGeneration("out"); // 1 in a fresh out dir
 * ```
 */
export async function nextGeneration(dir: string): Promise<number> {
  let max = 0;
  for await (const e of Deno.readDir(dir)) {
    const g = tensorsFileGeneration(e.name);
    if (g !== null && g > max) max = g;
  }
  return max + 1;
}

/**
 * After a save switched `ckpt.json` to `keep`: removes the other tensors files (previous
 * generations, the legacy `ckpt.safetensors`, files of interrupted saves) and temporary files
 * that killed processes left behind for checkpoint files.
 *
 * @param dir the out dir
 * @param keep the tensors file `ckpt.json` now names
 * @returns the names removed
 */
export async function removeStaleCheckpointFiles(dir: string, keep: string): Promise<string[]> {
  const removed: string[] = [];
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  for (const name of names.sort()) {
    if (name === keep) continue;
    if (tensorsFileGeneration(name) === null && !_deadTemp(name)) continue;
    try {
      await Deno.remove(join(dir, name));
      removed.push(name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return removed;
}

/** A temp file of writeFileAtomic (`.<name>.<pid>.<id>.tmp`) for a checkpoint file, pid dead. */
function _deadTemp(name: string): boolean {
  const m = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
  if (!m) return false;
  const target = m[1], pid = Number(m[2]);
  const ours = target === "ckpt.json" || target === "model.bin" ||
    tensorsFileGeneration(target) !== null;
  if (!ours || pid === Deno.pid || Deno.build.os !== "linux") return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}
