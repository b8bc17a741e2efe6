/**
 * A WGSL kernel: its name, source, and the binding and `Params` layout read from the source,
 * so launchers can pass bindings by their WGSL names and params by field name.
 *
 * @module
 */

/** A scalar field of a kernel's `Params` uniform struct. */
export interface ParamField {
  /** Field name in WGSL. */
  name: string;
  /** Scalar type. */
  type: "u32" | "i32" | "f32";
}

/** A storage, uniform or texture binding of a kernel (all at `@group(0)`). */
export interface BindingInfo {
  /** Variable name in WGSL. */
  name: string;
  /** `@binding(N)`. */
  index: number;
  /**
   * `uniform`, `storage, read` or `storage, read_write` buffers, `texture`: a
   * `texture_2d<f32>` read with `textureLoad` (bound as a view of an unfilterable float texture),
   * or `storage_texture`: a `texture_storage_2d<rgba32float, read>` (a view of a texture with
   * STORAGE_BINDING usage).
   */
  kind: "uniform" | "read" | "read_write" | "texture" | "storage_texture";
}

/** A compiled-once description of a kernel file. */
export interface Kernel {
  /** Kernel name, also the pipeline label (e.g. `rmsnorm_forward`). */
  name: string;
  /** WGSL source. */
  code: string;
  /** Bindings by WGSL name. */
  bindings: Map<string, BindingInfo>;
  /** `Params` struct fields in declaration order (empty when the kernel has no `Params`). */
  params: ParamField[];
  /** Names of `override` constants declared in the source. */
  overrides: Set<string>;
}

/**
 * Reads a kernel's bindings, `Params` struct and override names from its WGSL source.
 *
 * @param name kernel name (the file name without `.wgsl`)
 * @param code WGSL source
 * @throws {SyntaxError} when `Params` has a field that is not a 4-byte scalar
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKernel } from "./kernel.ts";
 *
 * const k = defineKernel("scale", `
 *   struct Params { N: u32, s: f32 }
 *   @group(0) @binding(0) var<uniform> p: Params;
 *   @group(0) @binding(1) var<storage, read_write> out: array<f32>;
 *   override WG: u32 = 64;
 *   @compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {
 *     if (g.x < p.N) { out[g.x] *= p.s; }
 *   }`);
 * assert.deepEqual(k.params, [{ name: "N", type: "u32" }, { name: "s", type: "f32" }]);
 * assert.deepEqual(k.bindings.get("out"), { name: "out", index: 1, kind: "read_write" });
 * assert.ok(k.overrides.has("WG"));
 * ```
 */
export function defineKernel(name: string, code: string): Kernel {
  const src = code.replace(/\/\/[^\n]*/g, "");
  const bindings = new Map<string, BindingInfo>();
  const re =
    /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>\s*(\w+)/g;
  for (const m of src.matchAll(re)) {
    const k = m[2].replace(/\s/g, "");
    const kind = k === "uniform" ? "uniform" : k === "storage,read_write" ? "read_write" : "read";
    bindings.set(m[3], { name: m[3], index: Number(m[1]), kind });
  }
  const tex = /@group\(0\)\s*@binding\((\d+)\)\s*var\s+(\w+)\s*:\s*texture_2d\s*<\s*f32\s*>/g;
  for (const m of src.matchAll(tex)) {
    bindings.set(m[2], { name: m[2], index: Number(m[1]), kind: "texture" });
  }
  const stex =
    /@group\(0\)\s*@binding\((\d+)\)\s*var\s+(\w+)\s*:\s*texture_storage_2d\s*<\s*rgba32float\s*,\s*read\s*>/g;
  for (const m of src.matchAll(stex)) {
    bindings.set(m[2], { name: m[2], index: Number(m[1]), kind: "storage_texture" });
  }
  const params: ParamField[] = [];
  const ps = /struct\s+Params\s*\{([^}]*)\}/.exec(src);
  if (ps) {
    for (const f of ps[1].split(",")) {
      const fm = /^\s*(\w+)\s*:\s*(\w+)\s*$/.exec(f);
      if (!fm) {
        if (f.trim() === "") continue;
        throw new SyntaxError(
          `Cannot read kernel ${name}: Params field '${f.trim()}' is not 'name: type'`,
        );
      }
      if (fm[2] !== "u32" && fm[2] !== "i32" && fm[2] !== "f32") {
        throw new SyntaxError(
          `Cannot read kernel ${name}: Params field ${fm[1]} has type ${fm[2]}, need u32/i32/f32`,
        );
      }
      params.push({ name: fm[1], type: fm[2] });
    }
  }
  const overrides = new Set<string>();
  for (const m of src.matchAll(/override\s+(\w+)/g)) overrides.add(m[1]);
  return { name, code, bindings, params, overrides };
}
