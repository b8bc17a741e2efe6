/**
 * Loads a model's config and flat parameters from whatever a user points at: a training
 * `out_dir` (ckpt.json + ckpt.safetensors) or a llama2.c `.bin` (legacy v0 or version 1).
 *
 * @module
 */
import { join } from "node:path";
import type { ModelConfig } from "../model/config.ts";
import { firstNonFinite, tensorTable } from "../model/tensors.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { readLlama2cFile } from "./llama2c.ts";

/**
 * Reads a model from a checkpoint directory or a llama2.c `.bin` file.
 *
 * @param path the directory or the file
 * @returns the config and the parameters in the tensor-table layout
 * @throws {Error} when the path does not exist or a directory has no ckpt.json
 * @throws {SyntaxError} for a malformed file
 * @throws {RangeError} when a weight is NaN or infinite (naming the tensor)
 * @example
 * ```ts
 * import { loadModel } from "./model_file.ts";
 *
 * const { config, params } = await loadModel("out"); // or "stories260K.bin"
 * console.log(config.dim, params.length);
 * ```
 */
export async function loadModel(
  path: string,
): Promise<{ config: ModelConfig; params: Float32Array<ArrayBuffer> }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot load model ${path}: it does not exist (give an out_dir or a .bin model)`,
      );
    }
    throw new Error(`Cannot load model ${path}: ${(e as Error).message}`);
  }
  if (info.isDirectory) {
    try {
      await Deno.stat(join(path, "ckpt.json"));
    } catch {
      throw new Error(`Cannot load model ${path}: the directory has no ckpt.json`);
    }
    const { config, params } = await loadCheckpoint(path);
    return { config, params };
  }
  const { config, params } = await readLlama2cFile(path);
  const bad = firstNonFinite(tensorTable(config), params);
  if (bad) {
    throw new RangeError(
      `Cannot load model ${path}: tensor ${bad.tensor} holds ${bad.value} at element ` +
        `${bad.index} (the run that wrote it diverged)`,
    );
  }
  return { config, params: params as Float32Array<ArrayBuffer> };
}
