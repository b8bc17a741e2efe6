import assert from "node:assert/strict";
import { join } from "node:path";
import { defineKernel } from "../../src/gpu/kernel.ts";
import { REPO_ROOT } from "../helpers/data.ts";

const KERNELS = join(REPO_ROOT, "kernels");

Deno.test("defineKernel reads bindings: index, kind and name, whatever the spacing", () => {
  const k = defineKernel(
    "k",
    `
    struct Params { N: u32 }
    @group(0) @binding(0) var<uniform> p: Params;
    @group(0) @binding(1) var<storage, read_write> out: array<f32>;
    @group(0)  @binding(2)  var< storage , read > inp: array<vec4f>;
    @group(0) @binding(3) var<storage> plain: array<u32>;
    @group(0) @binding(4)
      var<storage,read_write> acc: array<f32>;
    `,
  );
  assert.deepEqual([...k.bindings.values()], [
    { name: "p", index: 0, kind: "uniform" },
    { name: "out", index: 1, kind: "read_write" },
    { name: "inp", index: 2, kind: "read" },
    { name: "plain", index: 3, kind: "read" },
    { name: "acc", index: 4, kind: "read_write" },
  ]);
  assert.equal(k.name, "k");
});

Deno.test("defineKernel reads texture_2d<f32> bindings as kind texture", () => {
  const k = defineKernel(
    "k",
    `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
    @group(0) @binding(1) var inpT: texture_2d<f32>;
    @group(0)  @binding(2)  var  wT : texture_2d< f32 >;`,
  );
  assert.deepEqual([...k.bindings.values()], [
    { name: "out", index: 0, kind: "read_write" },
    { name: "inpT", index: 1, kind: "texture" },
    { name: "wT", index: 2, kind: "texture" },
  ]);
});

Deno.test("defineKernel reads texture_storage_2d<rgba32float, read> bindings as kind storage_texture", () => {
  const k = defineKernel(
    "k",
    `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
    @group(0) @binding(1) var wT: texture_storage_2d<rgba32float, read>;
    @group(0)  @binding(2)  var  xT : texture_storage_2d< rgba32float , read >;`,
  );
  assert.deepEqual([...k.bindings.values()], [
    { name: "out", index: 0, kind: "read_write" },
    { name: "wT", index: 1, kind: "storage_texture" },
    { name: "xT", index: 2, kind: "storage_texture" },
  ]);
});

Deno.test("defineKernel reads Params fields in order (multi-line, trailing comma, comments)", () => {
  const k = defineKernel(
    "k",
    `struct Params {
      N: u32,   // rows
      scale : f32,
      // off: f32,
      shift: i32,
    }
    @group(0) @binding(0) var<uniform> p: Params;`,
  );
  assert.deepEqual(k.params, [
    { name: "N", type: "u32" },
    { name: "scale", type: "f32" },
    { name: "shift", type: "i32" },
  ]);
  assert.deepEqual(defineKernel("none", "@compute @workgroup_size(1) fn main() {}").params, []);
});

Deno.test("defineKernel reads override names and ignores commented-out declarations", () => {
  const k = defineKernel(
    "k",
    `override WG: u32 = 64;
    override HS: u32;
    // override OLD: u32 = 1;
    // @group(0) @binding(9) var<storage, read> gone: array<f32>;
    @group(0) @binding(1) var<storage, read> inp: array<f32>;`,
  );
  assert.deepEqual([...k.overrides].sort(), ["HS", "WG"]);
  assert.deepEqual([...k.bindings.keys()], ["inp"]);
});

Deno.test("defineKernel parses kernel + snippet as one module (the launcher's concatenation)", () => {
  const code = "@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n";
  const snippet = "// a snippet\nfn twice(x: f32) -> f32 { return 2.0 * x; }\n";
  const k = defineKernel("k", code + snippet);
  assert.equal(k.code, code + snippet);
  assert.deepEqual([...k.bindings.keys()], ["out"]);
});

Deno.test("defineKernel rejects Params fields that are not 4-byte scalars, in one line", () => {
  const oneLine = (code: string, re: RegExp) =>
    assert.throws(() => defineKernel("bad_kernel", code), (e: Error) => {
      assert.ok(e instanceof SyntaxError, `${e.name}: ${e.message}`);
      assert.match(e.message, /^Cannot read kernel bad_kernel: /);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  oneLine(
    "struct Params { N: u32, v: vec4f }",
    /Params field v has type vec4f, need u32\/i32\/f32/,
  );
  oneLine("struct Params { N: u32, h: f16 }", /field h has type f16/);
  oneLine("struct Params { N u32 }", /Params field 'N u32' is not 'name: type'/);
  oneLine("struct Params { @align(16) N: u32 }", /is not 'name: type'/);
});

Deno.test("every kernel file parses: unique binding indices, a uniform Params iff it has fields", async () => {
  let kernels = 0;
  for await (const e of Deno.readDir(KERNELS)) {
    if (!e.name.endsWith(".wgsl") || e.name.startsWith("_")) continue;
    kernels++;
    const name = e.name.slice(0, -5);
    const k = defineKernel(name, await Deno.readTextFile(join(KERNELS, e.name)));
    const indices = [...k.bindings.values()].map((b) => b.index);
    assert.equal(new Set(indices).size, indices.length, `${name}: repeated binding index`);
    const uniforms = [...k.bindings.values()].filter((b) => b.kind === "uniform");
    assert.equal(uniforms.length, k.params.length > 0 ? 1 : 0, `${name}: Params uniform`);
    assert.ok(k.bindings.size > 0, `${name}: no bindings`);
  }
  assert.ok(kernels >= 30, `only ${kernels} kernels found`);
});

Deno.test("snippet files (kernels/_*.wgsl) declare no bindings, no Params and no entry point", async () => {
  let snippets = 0;
  for await (const e of Deno.readDir(KERNELS)) {
    if (!e.name.endsWith(".wgsl") || !e.name.startsWith("_")) continue;
    snippets++;
    const code = await Deno.readTextFile(join(KERNELS, e.name));
    const k = defineKernel(e.name, code);
    assert.equal(k.bindings.size, 0, `${e.name} declares bindings`);
    assert.equal(k.params.length, 0, `${e.name} declares Params`);
    assert.ok(!/@compute/.test(code.replace(/\/\/[^\n]*/g, "")), `${e.name} has an entry point`);
    assert.match(code, new RegExp(`^// ${e.name.slice(0, -5)}: snippet`), `${e.name} header`);
  }
  assert.ok(snippets >= 3, `only ${snippets} snippets found`);
});
