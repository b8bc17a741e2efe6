/**
 * Checks that imports in `src/`, `mod.ts` and `main.ts` follow the layers (CI runs it):
 *
 * ```
 * util                              leaf helpers (RNGs, flag specs): import nothing from src/
 * gpu        <- util                device, buffers, pipelines, plans
 * ops        <- gpu, util           one op's launchers (and its kernels/)
 * model      <- ops, gpu, util      config, tensor table, the forward/backward graph
 * reference  <- model, ops, util    the f64 oracle: for tests and tools only
 * io         <- model, util         file formats (CPU only: no gpu/ops)
 * data       <- io, util            download, tokenizer, pretokenize, dataset
 * dist       <- util                collectives between processes (MPI): no GPU, no model
 * train      <- dist, data, io, model, ops, gpu, util
 * cli        <- train, dist, data, io, model, ops, gpu, util
 * mod.ts     <- everything but cli and reference;   main.ts <- everything but reference
 * ```
 *
 * A package may import only the packages listed after its arrow (and itself); type-only imports
 * count. It also fails on any import cycle between packages or between files. The graph comes
 * from `deno info --json` over `main.ts`, `mod.ts` and every `src/` file.
 *
 * Usage: `deno run -A tools/check_layers.ts [--root DIR] [--self-test]`; exit code 1 and one
 * line per violation when the layering is broken. `--self-test` checks the checker on synthetic
 * graphs (a bad import, a package cycle, a file cycle) and exits 1 if it misses one.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What each package of `src/` may import (besides itself). */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  util: [],
  gpu: ["util"],
  ops: ["gpu", "util"],
  model: ["ops", "gpu", "util"],
  reference: ["model", "ops", "util"],
  io: ["model", "util"],
  data: ["io", "util"],
  dist: ["util"],
  train: ["dist", "data", "io", "model", "ops", "gpu", "util"],
  cli: ["train", "dist", "data", "io", "model", "ops", "gpu", "util"],
  "mod.ts": ["train", "dist", "data", "io", "model", "ops", "gpu", "util"],
  "main.ts": ["cli", "train", "dist", "data", "io", "model", "ops", "gpu", "util"],
};

/** An import graph: files and `[importer, imported]` edges, as paths relative to the root. */
export interface ImportGraph {
  /** Every file in the graph. */
  files: string[];
  /** One edge per import (type-only imports included). */
  edges: [string, string][];
}

/** The package of a path: `src/<pkg>/...` gives `<pkg>`, `mod.ts`/`main.ts` themselves. */
export function packageOf(path: string): string | null {
  if (path === "mod.ts" || path === "main.ts") return path;
  const m = /^src\/([^/]+)\//.exec(path);
  return m ? m[1] : null;
}

/** Strongly connected components with more than one node (or a self-loop), each sorted. */
function _cycles(nodes: Iterable<string>, next: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || next.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * The violations of {@link LAYERS} in `g`, one line each: imports a package may not make,
 * package cycles and file cycles. Files outside `src/`, `mod.ts` and `main.ts` are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLayers } from "./check_layers.ts";
 *
 * const bad = checkLayers({
 *   files: ["src/data/a.ts", "src/train/b.ts"],
 *   edges: [["src/data/a.ts", "src/train/b.ts"]],
 * });
 * assert.equal(bad.length, 1);
 * ```
 */
export function checkLayers(g: ImportGraph, layers = LAYERS): string[] {
  const out: string[] = [];
  const files = g.files.filter((f) => packageOf(f) !== null);
  const fileNext = new Map<string, Set<string>>();
  const pkgNext = new Map<string, Set<string>>();
  for (const [from, to] of g.edges) {
    const p = packageOf(from), q = packageOf(to);
    if (p === null || q === null) continue;
    if (!fileNext.has(from)) fileNext.set(from, new Set());
    fileNext.get(from)!.add(to);
    if (p === q) continue;
    if (!pkgNext.has(p)) pkgNext.set(p, new Set());
    pkgNext.get(p)!.add(q);
    const allowed = layers[p];
    if (allowed === undefined) {
      out.push(`${from} imports ${to}: package ${p} is not in the layer table`);
    } else if (!allowed.includes(q)) {
      const may = allowed.length ? allowed.join(", ") : "nothing";
      out.push(`${from} imports ${to}: ${p} may import only ${may}`);
    }
  }
  for (const f of files) {
    const p = packageOf(f)!;
    if (layers[p] === undefined && !out.some((l) => l.includes(`package ${p} `))) {
      out.push(`${f}: package ${p} is not in the layer table`);
    }
  }
  for (const c of _cycles(pkgNext.keys(), pkgNext)) {
    out.push(`package cycle: ${c.join(" <-> ")}`);
  }
  for (const c of _cycles(fileNext.keys(), fileNext)) out.push(`file cycle: ${c.join(" <-> ")}`);
  return out;
}

/** Whether the layer table itself is free of cycles (else no code could satisfy it). */
export function layersAcyclic(layers = LAYERS): boolean {
  const next = new Map(Object.entries(layers).map(([k, v]) => [k, new Set(v)]));
  return _cycles(next.keys(), next).length === 0;
}

interface _InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

async function _listTs(dir: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await _listTs(p, out);
    else if (e.isFile && e.name.endsWith(".ts")) out.push(p);
  }
}

/**
 * The import graph of `root`'s `main.ts`, `mod.ts` and `src/**.ts`, from `deno info --json`
 * (run once per root file not already reached from an earlier one).
 *
 * @throws {Error} when `deno info` fails
 */
export async function loadGraph(root: string): Promise<ImportGraph> {
  root = resolve(root);
  const roots: string[] = [];
  for (const f of ["main.ts", "mod.ts"]) {
    try {
      if (Deno.statSync(join(root, f)).isFile) roots.push(join(root, f));
    } catch {
      // absent
    }
  }
  const src: string[] = [];
  try {
    await _listTs(join(root, "src"), src);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  roots.push(...src.sort());
  const files = new Set<string>(), edges: [string, string][] = [];
  const rel = (spec: string) => relative(root, fileURLToPath(spec)).replaceAll("\\", "/");
  for (const r of roots) {
    if (files.has(rel(`file://${r}`))) continue;
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", r],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!res.success) {
      const err = new TextDecoder().decode(res.stderr).trim().split("\n")[0];
      throw new Error(`Cannot read the import graph: deno info ${r} failed: ${err}`);
    }
    const info = JSON.parse(new TextDecoder().decode(res.stdout)) as { modules: _InfoModule[] };
    for (const m of info.modules) {
      if (!m.specifier.startsWith("file:") || !m.specifier.endsWith(".ts")) continue;
      const from = rel(m.specifier);
      if (files.has(from)) continue;
      files.add(from);
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          if (s?.startsWith("file:") && s.endsWith(".ts")) edges.push([from, rel(s)]);
        }
      }
    }
  }
  return { files: [...files].sort(), edges };
}

/** Runs {@link checkLayers} on synthetic graphs; returns what it got wrong (empty: all good). */
export function selfTest(): string[] {
  const wrong: string[] = [];
  const expect = (name: string, g: ImportGraph, want: RegExp[]) => {
    const got = checkLayers(g);
    if (got.length !== want.length || !want.every((re, i) => re.test(got[i]))) {
      wrong.push(`${name}: got ${JSON.stringify(got)}`);
    }
  };
  const g = (edges: [string, string][]): ImportGraph => ({
    files: [...new Set(edges.flat())],
    edges,
  });
  if (!layersAcyclic()) wrong.push("the layer table has a cycle");
  expect("a good graph", g([["src/train/a.ts", "src/data/b.ts"], ["mod.ts", "src/gpu/c.ts"]]), []);
  expect("an upward import", g([["src/data/dataset.ts", "src/train/random.ts"]]), [
    /data may import only io, util/,
  ]);
  expect("io importing ops", g([["src/io/llama2c.ts", "src/ops/rope.ts"]]), [/io may import/]);
  expect("mod.ts exporting cli", g([["mod.ts", "src/cli/args.ts"]]), [/mod\.ts may import/]);
  expect(
    "a package cycle",
    g([["src/io/a.ts", "src/data/b.ts"], ["src/data/b.ts", "src/io/a.ts"]]),
    [
      /io may import/,
      /package cycle: data <-> io/,
      /file cycle: src\/data\/b\.ts <-> src\/io\/a\.ts/,
    ],
  );
  expect(
    "a file cycle",
    g([["src/train/log.ts", "src/train/plot.ts"], [
      "src/train/plot.ts",
      "src/train/log.ts",
    ]]),
    [/file cycle: src\/train\/log\.ts <-> src\/train\/plot\.ts/],
  );
  expect("an unknown package", g([["src/extra/x.ts", "src/util/rng.ts"]]), [
    /not in the layer table/,
  ]);
  return wrong;
}

if (import.meta.main) {
  const args = [...Deno.args];
  if (args.includes("--self-test")) {
    const wrong = selfTest();
    for (const w of wrong) console.error(`error: check_layers self-test: ${w}`);
    if (wrong.length === 0) console.log("check_layers self-test: every planted violation found");
    Deno.exit(wrong.length ? 1 : 0);
  }
  const at = args.indexOf("--root");
  const root = at >= 0 ? args[at + 1] : join(fileURLToPath(new URL(".", import.meta.url)), "..");
  let graph: ImportGraph;
  try {
    graph = await loadGraph(root);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
  const bad = checkLayers(graph);
  for (const b of bad) console.error(`error: layers: ${b}`);
  if (bad.length === 0) {
    const n = graph.files.filter((f) => packageOf(f) !== null).length;
    console.log(`layers ok: ${n} files, ${graph.edges.length} imports`);
  }
  Deno.exit(bad.length ? 1 : 0);
}
