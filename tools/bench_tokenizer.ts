/**
 * Tokenizer encode speed vs Python SentencePiece, in the same run: the stories of the
 * TinyStories sample (split on `<|endoftext|>`, stripped, one `encode` call per story as
 * pretokenize does), single-threaded.
 *
 * Each pass uses a fresh Tokenizer, so its per-word cache starts empty (`cold`); `warm` reuses
 * one tokenizer across passes. `unique` encodes the random/adversarial fixture strings, where
 * the cache rarely helps. Then it runs tools/bench_tokenizer.py (when /usr/bin/python3 has
 * sentencepiece) on the same stories.
 *
 * usage: deno run -A tools/bench_tokenizer.ts [--model PATH] [--text PATH] [--passes 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseModelProto } from "../src/data/sentencepiece_model.ts";
import { Tokenizer } from "../src/data/tokenizer.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = join(ROOT, "..", "shared", "data");
const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: join(DATA, "tokenizer.model") },
    text: { type: "string", default: join(DATA, "tinystories_valid_sample.txt") },
    passes: { type: "string", default: "10" },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const passes = Number(values.passes);
const model = parseModelProto(await Deno.readFile(values.model!));
const stories = (await Deno.readTextFile(values.text!)).split("<|endoftext|>").map((s) => s.trim())
  .filter((s) => s.length > 0);
const enc = new TextEncoder();
const nbytes = stories.reduce((n, s) => n + enc.encode(s).length, 0);

function pass(tok: Tokenizer, texts: string[]): { s: number; tokens: number } {
  const t = performance.now();
  let tokens = 0;
  for (const s of texts) tokens += tok.encode(s).length;
  return { s: (performance.now() - t) / 1000, tokens };
}

const cold: number[] = [];
let tokens = 0;
for (let p = 0; p < passes; p++) {
  const r = pass(Tokenizer.fromModelProto(model), stories);
  cold.push(r.s);
  tokens = r.tokens;
}
const warmTok = Tokenizer.fromModelProto(model);
const warm: number[] = [];
for (let p = 0; p < passes; p++) warm.push(pass(warmTok, stories).s);

const uniq =
  (await Deno.readTextFile(join(ROOT, "tests", "fixtures", "tokenizer_random_cases.jsonl")))
    .split("\n").filter((l) => l).map((l) => JSON.parse(l).text).filter((t) => t !== undefined);
const ubytes = uniq.reduce((n, s) => n + enc.encode(s).length, 0);
const uniqT: number[] = [];
for (let p = 0; p < passes; p++) uniqT.push(pass(Tokenizer.fromModelProto(model), uniq).s);

const mbps = (b: number, s: number[]) => (b / Math.min(...s) / 1e6).toFixed(2);
console.log(
  JSON.stringify({
    impl: "babyllama Tokenizer (Deno " + Deno.version.deno + ")",
    stories: stories.length,
    bytes: nbytes,
    tokens,
    cold_MBps: Number(mbps(nbytes, cold)),
    first_pass_MBps: Number((nbytes / cold[0] / 1e6).toFixed(2)),
    warm_MBps: Number(mbps(nbytes, warm)),
    unique_strings_MBps: Number(mbps(ubytes, uniqT)),
  }),
);

try {
  const out = await new Deno.Command(values.python!, {
    args: [
      join(ROOT, "tools", "bench_tokenizer.py"),
      "--model",
      values.model!,
      "--text",
      values.text!,
      "--passes",
      String(passes),
    ],
    stderr: "inherit",
  }).output();
  if (out.success) Deno.stdout.writeSync(out.stdout);
  else console.error("python sentencepiece bench failed");
} catch (e) {
  console.error(`python sentencepiece bench skipped: ${(e as Error).message}`);
}
