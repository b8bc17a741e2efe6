/**
 * A recorded sequence of GPU work (dispatches, clears, copies) built once and replayed into one
 * command encoder per step: bind groups and uniforms are made when the plan is built, so a step
 * allocates nothing but the encoder itself.
 *
 * @module
 */
import type { Gpu } from "./device.ts";
import type { Kernel } from "./kernel.ts";
import type { Constants } from "./pipeline.ts";
import { type BufferBinding, roundUp } from "./buffers.ts";

/** Values for a kernel's `Params` fields, by name. */
export type ParamValues = Record<string, number>;

/** Handle to a recorded dispatch, to change its `Params` later (e.g. the learning rate). */
export interface DispatchHandle {
  /** The kernel. */
  kernel: Kernel;
  /** Byte offset of its params in the plan's uniform arena. */
  offset: number;
}

type Op =
  | {
    kind: "dispatch";
    pipeline: GPUComputePipeline;
    group: GPUBindGroup;
    wg: [number, number, number];
    label: string;
  }
  | { kind: "clear"; buffer: GPUBuffer; offset: number; size?: number }
  | {
    kind: "copy";
    src: GPUBuffer;
    srcOffset: number;
    dst: GPUBuffer;
    dstOffset: number;
    size: number;
  }
  | {
    kind: "texcopy";
    src: GPUTexelCopyBufferInfo;
    dst: GPUTexelCopyTextureInfo;
    size: GPUExtent3DDict;
  };

/**
 * Per-dispatch timing for {@link Plan.encode}: each dispatch then gets its own compute pass,
 * whose timestamps go where this says (see `src/gpu/profile.ts`).
 */
export interface DispatchTiming {
  /** Where the pass of the next dispatch, labelled `label`, writes its timestamps. */
  timestampWrites(label: string): GPUComputePassTimestampWrites;
}

/** Largest workgroup count per dimension WebGPU guarantees. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Splits `n` workgroups over x and y so that x stays within 65535. A kernel that uses it reads
 * its linear workgroup index as `wid.x + wid.y * nwg.x` (`@builtin(num_workgroups) nwg`).
 */
export function grid(n: number): [number, number, number] {
  if (n <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, n), 1, 1];
  const y = Math.ceil(n / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(n / y), y, 1];
}

/** Encodes a clear or copy. */
function _encodeTransfer(encoder: GPUCommandEncoder, op: Exclude<Op, { kind: "dispatch" }>): void {
  if (op.kind === "clear") encoder.clearBuffer(op.buffer, op.offset, op.size);
  else if (op.kind === "copy") {
    encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
  } else encoder.copyBufferToTexture(op.src, op.dst, op.size);
}

/**
 * A replayable list of GPU operations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acquireGpu } from "./device.ts";
 * import { BufferPool, readF32 } from "./buffers.ts";
 * import { defineKernel } from "./kernel.ts";
 * import { Plan } from "./plan.ts";
 *
 * const twice = defineKernel("twice", `
 *   struct Params { N: u32 }
 *   @group(0) @binding(0) var<uniform> p: Params;
 *   @group(0) @binding(1) var<storage, read_write> out: array<f32>;
 *   @group(0) @binding(2) var<storage, read> inp: array<f32>;
 *   @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
 *     if (g.x < p.N) { out[g.x] = 2.0 * inp[g.x]; }
 *   }`);
 * using gpu = await acquireGpu();
 * using pool = new BufferPool(gpu);
 * const inp = pool.upload("inp", new Float32Array([1, 2, 3])), out = pool.create("out", 12);
 * using plan = new Plan(gpu, "forward");
 * plan.dispatch(twice, { out, inp }, { N: 3 }, [1]);
 * await plan.check();
 * plan.submit();
 * assert.deepEqual(await readF32(gpu, out, 0, 3), new Float32Array([2, 4, 6]));
 * ```
 */
export class Plan implements Disposable {
  #ops: Op[] = [];
  #uniform: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  #uniformUsed = 0;
  #uniformBuffer: GPUBuffer | null = null;
  #uniformCapacity = 0;
  #dirty = true;
  #pending: Promise<void>[] = [];
  #align: number;

  /**
   * Creates an empty plan; record operations with {@link Plan.dispatch}.
   *
   * @param gpu the device owner
   * @param label label of the plan's command encoders
   */
  constructor(readonly gpu: Gpu, readonly label = "plan") {
    this.#align = gpu.limits.minUniformBufferOffsetAlignment;
  }

  /** Number of recorded operations (dispatches, clears and copies). */
  get length(): number {
    return this.#ops.length;
  }

  /** Number of recorded compute dispatches. */
  get dispatches(): number {
    return this.#ops.reduce((n, op) => n + (op.kind === "dispatch" ? 1 : 0), 0);
  }

  /**
   * Records one dispatch of `kernel`.
   *
   * @param kernel the kernel
   * @param bindings buffers by WGSL binding name (every storage binding of the kernel), and
   *   texture views for its `texture_2d<f32>` bindings
   * @param params values of the kernel's `Params` fields
   * @param workgroups workgroup counts (x, y, z)
   * @param constants override constants (tile sizes)
   * @returns a handle for {@link Plan.setParams}
   * @throws {TypeError} for a missing, unknown, or misaligned binding or param
   */
  dispatch(
    kernel: Kernel,
    bindings: Record<string, BufferBinding | GPUTextureView>,
    params: ParamValues,
    workgroups: readonly number[],
    constants: Constants = {},
  ): DispatchHandle {
    const { pipeline, layout } = this.gpu.pipelines.get(kernel, constants);
    const entries: GPUBindGroupEntry[] = [];
    let offset = -1;
    for (const b of kernel.bindings.values()) {
      if (b.kind === "uniform") {
        offset = this.#allocUniform(kernel, params);
        entries.push({
          binding: b.index,
          resource: { buffer: this.#placeholder(), offset, size: kernel.params.length * 4 },
        });
        continue;
      }
      const given = bindings[b.name];
      if (!given) {
        throw new TypeError(`Cannot record ${kernel.name}: binding '${b.name}' is missing`);
      }
      const isTexture = b.kind === "texture" || b.kind === "storage_texture";
      if (isTexture !== (given instanceof GPUTextureView)) {
        throw new TypeError(
          `Cannot record ${kernel.name}: binding '${b.name}' needs a ${
            isTexture ? "texture view" : "buffer"
          }`,
        );
      }
      if (given instanceof GPUTextureView) {
        entries.push({ binding: b.index, resource: given });
        continue;
      }
      const res = given instanceof GPUBuffer ? { buffer: given } : given;
      if ((res.offset ?? 0) % this.gpu.limits.minStorageBufferOffsetAlignment !== 0) {
        throw new TypeError(
          `Cannot record ${kernel.name}: binding '${b.name}' offset ${res.offset} is not 256-byte aligned`,
        );
      }
      entries.push({ binding: b.index, resource: res });
    }
    for (const name of Object.keys(bindings)) {
      if (!kernel.bindings.has(name)) {
        throw new TypeError(`Cannot record ${kernel.name}: it has no binding '${name}'`);
      }
    }
    const wg: [number, number, number] = [
      workgroups[0] ?? 1,
      workgroups[1] ?? 1,
      workgroups[2] ?? 1,
    ];
    if (wg.some((n) => n > MAX_WORKGROUPS_PER_DIM || !Number.isInteger(n) || n < 0)) {
      throw new RangeError(
        `Cannot record ${kernel.name}: workgroup counts ${wg.join("x")} out of range`,
      );
    }
    this.gpu.device.pushErrorScope("validation");
    const group = this.gpu.device.createBindGroup({ label: kernel.name, layout, entries });
    this.#pending.push(
      this.gpu.device.popErrorScope().then((err) => {
        if (err) {
          throw new Error(`Cannot bind kernel ${kernel.name}: ${err.message.split("\n")[0]}`);
        }
      }),
    );
    this.#ops.push({ kind: "dispatch", pipeline, group, wg, label: kernel.name });
    return { kernel, offset };
  }

  /** Records a clear to zero of `buffer` (or a byte range of it). */
  clear(buffer: GPUBuffer, offset = 0, size?: number): void {
    this.#ops.push({ kind: "clear", buffer, offset, size });
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.#ops.push({ kind: "copy", src, srcOffset, dst, dstOffset, size });
  }

  /**
   * Records a buffer-to-texture copy (`GPUCommandEncoder.copyBufferToTexture`): `size` texels of
   * rows `bytesPerRow` apart in `src` from byte `offset`, to `dst` at `origin`.
   */
  copyToTexture(
    src: { buffer: GPUBuffer; offset: number; bytesPerRow: number },
    dst: { texture: GPUTexture; origin: [number, number] },
    size: [number, number],
  ): void {
    this.#ops.push({
      kind: "texcopy",
      src: { ...src, rowsPerImage: size[1] },
      dst: { texture: dst.texture, origin: { x: dst.origin[0], y: dst.origin[1] } },
      size: { width: size[0], height: size[1] },
    });
  }

  /** Changes the `Params` of a recorded dispatch; uploaded before the next encode. */
  setParams(handle: DispatchHandle, params: ParamValues): void {
    this.#writeParams(handle.kernel, handle.offset, params);
    this.#dirty = true;
  }

  /** Resolves when every recorded bind group validated; rejects naming the failing kernel. */
  async check(): Promise<void> {
    const p = this.#pending;
    this.#pending = [];
    await Promise.all(p);
  }

  /**
   * Replays the plan into `encoder` (uploading changed uniforms first).
   *
   * @param encoder the command encoder
   * @param timing when given, each dispatch runs in its own timed compute pass (same results,
   *   for profiling); otherwise consecutive dispatches share one pass
   */
  encode(encoder: GPUCommandEncoder, timing?: DispatchTiming): void {
    this.#upload();
    let pass: GPUComputePassEncoder | null = null;
    for (const op of this.#ops) {
      if (op.kind === "dispatch" && timing) {
        const timed = encoder.beginComputePass({
          label: op.label,
          timestampWrites: timing.timestampWrites(op.label),
        });
        timed.setPipeline(op.pipeline);
        timed.setBindGroup(0, op.group);
        if (op.wg[0] > 0 && op.wg[1] > 0 && op.wg[2] > 0) {
          timed.dispatchWorkgroups(op.wg[0], op.wg[1], op.wg[2]);
        }
        timed.end();
        continue;
      }
      if (op.kind === "dispatch") {
        pass ??= encoder.beginComputePass({ label: this.label });
        pass.setPipeline(op.pipeline);
        pass.setBindGroup(0, op.group);
        if (op.wg[0] > 0 && op.wg[1] > 0 && op.wg[2] > 0) {
          pass.dispatchWorkgroups(op.wg[0], op.wg[1], op.wg[2]);
        }
        continue;
      }
      if (pass) {
        pass.end();
        pass = null;
      }
      _encodeTransfer(encoder, op);
    }
    pass?.end();
  }

  /** Encodes the plan into a new encoder and submits it. */
  submit(): void {
    const enc = this.gpu.device.createCommandEncoder({ label: this.label });
    this.encode(enc);
    this.gpu.device.queue.submit([enc.finish()]);
  }

  /**
   * Runs each dispatch in its own error scope and waits: slow, for finding which kernel fails.
   *
   * @throws {Error} `Cannot run kernel <name>: ...` for the first failing dispatch
   */
  async debugRun(): Promise<void> {
    this.#upload();
    for (const op of this.#ops) {
      const enc = this.gpu.device.createCommandEncoder({ label: this.label });
      const label = op.kind === "dispatch" ? op.label : op.kind;
      this.gpu.device.pushErrorScope("validation");
      if (op.kind === "dispatch") {
        const pass = enc.beginComputePass({ label });
        pass.setPipeline(op.pipeline);
        pass.setBindGroup(0, op.group);
        pass.dispatchWorkgroups(op.wg[0], op.wg[1], op.wg[2]);
        pass.end();
      } else _encodeTransfer(enc, op);
      this.gpu.device.queue.submit([enc.finish()]);
      const err = await this.gpu.device.popErrorScope();
      if (err) throw new Error(`Cannot run kernel ${label}: ${err.message.split("\n")[0]}`);
    }
    await this.gpu.device.queue.onSubmittedWorkDone();
  }

  /** Destroys the plan's uniform buffer. */
  [Symbol.dispose](): void {
    this.#uniformBuffer?.destroy();
    this.#uniformBuffer = null;
  }

  // Bind groups reference the uniform buffer, which must exist before they are created: make it
  // large up front and grow (rebuilding nothing) only by creating it before the first dispatch.
  #placeholder(): GPUBuffer {
    if (!this.#uniformBuffer || this.#uniformUsed > this.#uniformCapacity) {
      throw new Error("internal: uniform arena exhausted");
    }
    return this.#uniformBuffer;
  }

  #allocUniform(kernel: Kernel, params: ParamValues): number {
    const size = Math.max(16, roundUp(kernel.params.length * 4, 16));
    const offset = roundUp(this.#uniformUsed, this.#align);
    this.#uniformUsed = offset + size;
    if (!this.#uniformBuffer) {
      this.#uniformCapacity = 1 << 20;
      this.#uniformBuffer = this.gpu.device.createBuffer({
        label: `${this.label}:params`,
        size: this.#uniformCapacity,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    if (this.#uniformUsed > this.#uniformCapacity) {
      throw new RangeError(
        `Cannot record ${kernel.name}: plan '${this.label}' has more than ${this.#uniformCapacity} bytes of params`,
      );
    }
    if (this.#uniform.byteLength < this.#uniformUsed) {
      const grown = new Uint8Array(Math.max(this.#uniformUsed, this.#uniform.byteLength * 2));
      grown.set(this.#uniform);
      this.#uniform = grown;
    }
    this.#writeParams(kernel, offset, params);
    return offset;
  }

  #writeParams(kernel: Kernel, offset: number, params: ParamValues): void {
    const view = new DataView(this.#uniform.buffer, offset);
    kernel.params.forEach((f, i) => {
      const v = params[f.name];
      if (v === undefined || !Number.isFinite(v)) {
        throw new TypeError(`Cannot record ${kernel.name}: param '${f.name}' is ${v}`);
      }
      if (f.type === "f32") view.setFloat32(i * 4, v, true);
      else if (f.type === "u32") view.setUint32(i * 4, v, true);
      else view.setInt32(i * 4, v, true);
    });
    for (const name of Object.keys(params)) {
      if (!kernel.params.some((f) => f.name === name)) {
        throw new TypeError(`Cannot record ${kernel.name}: it has no param '${name}'`);
      }
    }
    this.#dirty = true;
  }

  #upload(): void {
    if (!this.#dirty || !this.#uniformBuffer) return;
    this.gpu.device.queue.writeBuffer(
      this.#uniformBuffer,
      0,
      this.#uniform.buffer,
      0,
      roundUp(this.#uniformUsed, 4),
    );
    this.#dirty = false;
  }
}
