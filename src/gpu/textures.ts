/**
 * Scratch textures for kernels that read an operand through `textureLoad` instead of a storage
 * buffer (on llvmpipe a texel fetch loads all lanes at once, a storage load with a non-constant
 * offset loops over them: docs/matmul-cpu.md). A launcher records a copy of the operand's buffer
 * into a scratch texture right before its dispatch; copies and dispatches run in queue order, so
 * every launcher of one owner can reuse the same few slots.
 *
 * @module
 */
import type { BufferBinding } from "./buffers.ts";
import type { Plan } from "./plan.ts";

/** Width in texels of a scratch texture (4 floats per `rgba32float` texel). */
export const SCRATCH_TEXTURE_WIDTH = 4096;

/** Scratch textures per device, by owner and slot, grown as needed. */
const _slots = new WeakMap<GPUDevice, Map<string, GPUTexture>>();

/** The most floats a scratch texture holds on a device with these limits. */
export function scratchTextureCapacity(limits: GPUSupportedLimits): number {
  return SCRATCH_TEXTURE_WIDTH * limits.maxTextureDimension2D * 4;
}

/**
 * Records the copy of `floats` floats (row-major, a multiple of 4) at the start of binding `b`
 * into scratch texture `slot` of `owner` on the plan's device, texel t = floats 4t..4t+3 at
 * (t % 4096, t / 4096), and returns a view of it. Bind groups made earlier keep the texture they
 * were made with when a slot grows.
 *
 * @param plan the plan to record the copy into
 * @param owner who uses the slot (e.g. `"attention"`): owners never share a texture
 * @param slot the slot of that owner
 * @param b the buffer (or sub-range) to copy from
 * @param floats how many floats to copy
 * @returns a view of the texture, for a `texture_2d<f32>` or a read-only
 *   `texture_storage_2d<rgba32float, read>` binding
 * @throws {RangeError} when `floats` is not a positive multiple of 4 or exceeds
 *   {@link scratchTextureCapacity}
 */
export function scratchTexture(
  plan: Plan,
  owner: string,
  slot: number,
  b: BufferBinding,
  floats: number,
): GPUTextureView {
  const gpu = plan.gpu;
  if (!(floats > 0 && floats % 4 === 0 && floats <= scratchTextureCapacity(gpu.limits))) {
    throw new RangeError(
      `Cannot copy ${floats} floats into a scratch texture: not a positive multiple of 4 within ${
        scratchTextureCapacity(gpu.limits)
      }`,
    );
  }
  const W = SCRATCH_TEXTURE_WIDTH;
  const texels = floats / 4;
  const rows = Math.ceil(texels / W);
  const slots = _slots.get(gpu.device) ?? new Map<string, GPUTexture>();
  _slots.set(gpu.device, slots);
  const key = `${owner}/${slot}`;
  let tex = slots.get(key);
  if (!tex || tex.height < rows) {
    const height = Math.min(
      gpu.limits.maxTextureDimension2D,
      Math.max(rows, 2 * (tex?.height ?? 0)),
    );
    tex = gpu.device.createTexture({
      label: `${owner}_scratch${slot}`,
      size: [W, height],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
        GPUTextureUsage.COPY_DST,
    });
    slots.set(key, tex);
  }
  const buffer = b instanceof GPUBuffer ? b : b.buffer;
  const offset = b instanceof GPUBuffer ? 0 : b.offset ?? 0;
  const full = Math.floor(texels / W), rest = texels % W;
  const bytesPerRow = W * 16;
  if (full > 0) {
    plan.copyToTexture({ buffer, offset, bytesPerRow }, { texture: tex, origin: [0, 0] }, [
      W,
      full,
    ]);
  }
  if (rest > 0) {
    plan.copyToTexture(
      { buffer, offset: offset + full * bytesPerRow, bytesPerRow },
      { texture: tex, origin: [0, full] },
      [rest, 1],
    );
  }
  return tex.createView();
}
