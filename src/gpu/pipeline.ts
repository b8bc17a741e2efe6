/**
 * Compute pipelines cached by kernel name and override constants, each with an explicit bind
 * group layout made from the kernel's declared bindings.
 *
 * @module
 */
import type { Kernel } from "./kernel.ts";

/** Override constants of one pipeline. */
export type Constants = Record<string, number>;

/** A pipeline and its bind group layout. */
export interface CachedPipeline {
  /** The compute pipeline, labelled with the kernel name. */
  pipeline: GPUComputePipeline;
  /** Layout of `@group(0)`. */
  layout: GPUBindGroupLayout;
}

/** Pipelines keyed by `name + constants`; creates each once per device. */
export class PipelineCache {
  #device: GPUDevice;
  #pipelines = new Map<string, CachedPipeline>();
  #modules = new Map<string, GPUShaderModule>();

  /**
   * Creates an empty cache for a device.
   *
   * @param device the device pipelines are created on
   */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Number of pipelines created so far. */
  get size(): number {
    return this.#pipelines.size;
  }

  /**
   * The pipeline for `kernel` with `constants`, created on first use.
   *
   * @throws {TypeError} when a constant is not declared as `override` in the kernel
   */
  get(kernel: Kernel, constants: Constants = {}): CachedPipeline {
    const names = Object.keys(constants).sort();
    for (const n of names) {
      if (!kernel.overrides.has(n)) {
        throw new TypeError(`Cannot build kernel ${kernel.name}: no override constant '${n}'`);
      }
    }
    const key = kernel.name + "|" + names.map((n) => `${n}=${constants[n]}`).join(",");
    let cached = this.#pipelines.get(key);
    if (cached) return cached;
    let module = this.#modules.get(kernel.name);
    if (!module) {
      module = this.#device.createShaderModule({ label: kernel.name, code: kernel.code });
      this.#modules.set(kernel.name, module);
    }
    const entries: GPUBindGroupLayoutEntry[] = [...kernel.bindings.values()].map((b) =>
      b.kind === "texture"
        ? {
          binding: b.index,
          visibility: GPUShaderStage.COMPUTE,
          texture: { sampleType: "unfilterable-float", viewDimension: "2d" },
        }
        : b.kind === "storage_texture"
        ? {
          binding: b.index,
          visibility: GPUShaderStage.COMPUTE,
          storageTexture: { access: "read-only", format: "rgba32float", viewDimension: "2d" },
        }
        : {
          binding: b.index,
          visibility: GPUShaderStage.COMPUTE,
          buffer: {
            type: b.kind === "uniform"
              ? "uniform"
              : b.kind === "read"
              ? "read-only-storage"
              : "storage",
          },
        }
    );
    const layout = this.#device.createBindGroupLayout({ label: kernel.name, entries });
    const pipeline = this.#device.createComputePipeline({
      label: kernel.name,
      layout: this.#device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main", constants },
    });
    cached = { pipeline, layout };
    this.#pipelines.set(key, cached);
    return cached;
  }
}
