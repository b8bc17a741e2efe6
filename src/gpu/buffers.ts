/**
 * Labelled GPU buffers with an owner that destroys them, plus upload and readback helpers.
 *
 * @module
 */
import type { Gpu } from "./device.ts";

/** A whole buffer or a byte range of one, as bound to a kernel. */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Default usage for storage buffers: bindable, copyable both ways. */
export const STORAGE_USAGE: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/** Rounds `n` up to a multiple of `m`. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Owns a set of labelled buffers and destroys them together.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acquireGpu } from "./device.ts";
 * import { BufferPool, readF32 } from "./buffers.ts";
 *
 * using gpu = await acquireGpu();
 * using pool = new BufferPool(gpu);
 * const x = pool.upload("x", new Float32Array([1, 2, 3, 4]));
 * assert.deepEqual(await readF32(gpu, x, 0, 4), new Float32Array([1, 2, 3, 4]));
 * ```
 */
export class BufferPool implements Disposable {
  #buffers: GPUBuffer[] = [];
  #bytes = 0;

  /**
   * Creates an empty pool on a device.
   *
   * @param gpu the device owner
   */
  constructor(readonly gpu: Gpu) {}

  /** Total bytes allocated by this pool. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Creates a labelled buffer of at least 4 bytes, rounded up to a multiple of 4.
   *
   * @throws {RangeError} when it exceeds the device's maxBufferSize
   */
  create(label: string, byteSize: number, usage: number = STORAGE_USAGE): GPUBuffer {
    const size = Math.max(16, roundUp(byteSize, 16));
    if (size > this.gpu.limits.maxBufferSize) {
      throw new RangeError(
        `Cannot allocate ${label}: ${size} bytes exceeds maxBufferSize ${this.gpu.limits.maxBufferSize}`,
      );
    }
    const b = this.gpu.device.createBuffer({ label, size, usage });
    this.#buffers.push(b);
    this.#bytes += size;
    return b;
  }

  /** Creates a buffer holding `data`. */
  upload(
    label: string,
    data: ArrayBufferView<ArrayBuffer>,
    usage: number = STORAGE_USAGE,
  ): GPUBuffer {
    const b = this.create(label, data.byteLength, usage);
    writeBuffer(this.gpu, b, data);
    return b;
  }

  /** Destroys every buffer of the pool. */
  [Symbol.dispose](): void {
    for (const b of this.#buffers) b.destroy();
    this.#buffers = [];
    this.#bytes = 0;
  }
}

/** Writes `data` into `buffer` at `offset` (byte length padded to a multiple of 4). */
export function writeBuffer(
  gpu: Gpu,
  buffer: GPUBuffer,
  data: ArrayBufferView<ArrayBuffer>,
  offset = 0,
): void {
  if (data.byteLength % 4 === 0) {
    gpu.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  const padded = new Uint8Array(roundUp(data.byteLength, 4));
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  gpu.device.queue.writeBuffer(buffer, offset, padded);
}

/**
 * Copies `size` bytes of `buffer` from `offset` back to the CPU (one synchronisation).
 *
 * @returns a fresh ArrayBuffer of `size` bytes
 */
export async function readBuffer(
  gpu: Gpu,
  buffer: GPUBuffer,
  offset = 0,
  size = buffer.size - offset,
): Promise<ArrayBuffer> {
  const staging = gpu.device.createBuffer({
    label: `${buffer.label}:readback`,
    size: roundUp(size, 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const enc = gpu.device.createCommandEncoder({ label: "readback" });
    enc.copyBufferToBuffer(buffer, offset, staging, 0, roundUp(size, 4));
    gpu.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0, size);
  } finally {
    staging.destroy();
  }
}

/** Reads a whole f32 buffer (or a range of elements) back as a Float32Array. */
export async function readF32(
  gpu: Gpu,
  buffer: GPUBuffer,
  offsetElems = 0,
  count?: number,
): Promise<Float32Array<ArrayBuffer>> {
  const n = count ?? buffer.size / 4 - offsetElems;
  return new Float32Array(await readBuffer(gpu, buffer, offsetElems * 4, n * 4));
}

/**
 * A persistent staging buffer for repeated small readbacks (the loss each logged step), so
 * nothing is allocated per step.
 */
export class Readback implements Disposable {
  #staging: GPUBuffer;

  /**
   * @param gpu the device owner
   * @param size bytes to read each time
   * @param label label of the staging buffer
   */
  constructor(readonly gpu: Gpu, readonly size: number, label = "readback") {
    this.#staging = gpu.device.createBuffer({
      label,
      size: roundUp(size, 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Records a copy of `size` bytes from `src` at `offset` into the staging buffer. */
  record(encoder: GPUCommandEncoder, src: GPUBuffer, offset = 0): void {
    encoder.copyBufferToBuffer(src, offset, this.#staging, 0, roundUp(this.size, 4));
  }

  /** Maps the staging buffer after the recorded copy was submitted and returns its bytes. */
  async read(): Promise<ArrayBuffer> {
    await this.#staging.mapAsync(GPUMapMode.READ);
    const out = this.#staging.getMappedRange().slice(0, this.size);
    this.#staging.unmap();
    return out;
  }

  /** Destroys the staging buffer. */
  [Symbol.dispose](): void {
    this.#staging.destroy();
  }
}
