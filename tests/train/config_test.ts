import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCommand, UsageError } from "../../src/cli/args.ts";
import {
  modelConfigFromTrain,
  tokensPerIter,
  TRAIN_DEFAULTS,
  TRAIN_FLAGS,
  trainConfigFromFlags,
} from "../../src/train/config.ts";

const parse = (argv: string[]) => parseCommand(TRAIN_FLAGS, argv).values;
/** The values and the flags typed, as main.ts passes them to the train command. */
const parseGiven = (argv: string[]) => parseCommand(TRAIN_FLAGS, argv);

function withConfigFile(obj: unknown, fn: (path: string) => void): void {
  const dir = Deno.makeTempDirSync();
  try {
    const p = join(dir, "cfg.json");
    Deno.writeTextFileSync(p, typeof obj === "string" ? obj : JSON.stringify(obj));
    fn(p);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("train config defaults are train.py's", () => {
  // Values copied from llama2.c's train.py header.
  const trainPy = {
    batch_size: 128,
    max_seq_len: 256,
    vocab_source: "llama2",
    vocab_size: 32000,
    dim: 288,
    n_layers: 6,
    n_heads: 6,
    n_kv_heads: 6,
    multiple_of: 32,
    dropout: 0.0,
    gradient_accumulation_steps: 4,
    learning_rate: 5e-4,
    max_iters: 100000,
    weight_decay: 1e-1,
    beta1: 0.9,
    beta2: 0.95,
    grad_clip: 1.0,
    decay_lr: true,
    warmup_iters: 1000,
    eval_interval: 2000,
    log_interval: 1,
    eval_iters: 100,
    eval_only: false,
    always_save_checkpoint: false,
    init_from: "scratch",
    out_dir: "out",
    seed: 1337,
    data_dir: "data",
  };
  const cfg = trainConfigFromFlags(parse([]));
  for (const [k, v] of Object.entries(trainPy)) assert.equal(cfg[k as keyof typeof cfg], v, k);
  assert.equal(cfg.peak_flops, 1e12);
  assert.equal(tokensPerIter(cfg), 4 * 128 * 256);
  assert.equal(modelConfigFromTrain(cfg).hidden_dim, 768);
  for (const k of Object.keys(TRAIN_DEFAULTS)) {
    assert.ok(TRAIN_FLAGS[k.replaceAll("_", "-")], `flag for ${k}`);
  }
});

Deno.test("train flags accept kebab-case, train.py's snake_case and booleans", () => {
  const cfg = trainConfigFromFlags(
    parse([
      "--batch-size",
      "8",
      "--max_iters=200",
      "--decay_lr=False",
      "--eval-only",
      "--vocab-source=custom",
      "--vocab-size",
      "512",
      "--learning-rate",
      "1e-3",
    ]),
  );
  assert.equal(cfg.batch_size, 8);
  assert.equal(cfg.max_iters, 200);
  assert.equal(cfg.decay_lr, false);
  assert.equal(cfg.eval_only, true);
  assert.equal(cfg.vocab_source, "custom");
  assert.equal(cfg.vocab_size, 512);
  assert.equal(cfg.learning_rate, 1e-3);
});

Deno.test("config file sets values; flags on the command line override it", () => {
  withConfigFile(
    { "batch_size": 16, "max-iters": 50, "dim": 64, "n_heads": 4, "n_kv_heads": 2, "seed": 7 },
    (p) => {
      // Flags equal to their defaults but typed explicitly still win over the file.
      const typed = parseGiven(["--config", p, "--batch-size", "128", "--dim=96"]);
      const cfg = trainConfigFromFlags(typed.values, undefined, typed.given);
      assert.equal(cfg.batch_size, 128);
      assert.equal(cfg.dim, 96);
      assert.equal(cfg.max_iters, 50);
      assert.equal(cfg.n_heads, 4);
      assert.equal(cfg.n_kv_heads, 2);
      assert.equal(cfg.seed, 7);
      assert.equal(cfg.learning_rate, 5e-4);
      // Explicit configFile argument and explicit `given` set.
      const v = parse([]);
      const c2 = trainConfigFromFlags({ ...v, "batch-size": 128 }, p, new Set(["batch-size"]));
      assert.equal(c2.batch_size, 128);
      assert.equal(c2.max_iters, 50);
      // Without a `given` record, values that differ from their defaults count as given.
      const c3 = trainConfigFromFlags({ ...v, "max-iters": 9 }, p);
      assert.equal(c3.max_iters, 9);
      assert.equal(c3.batch_size, 16);
    },
  );
});

Deno.test("bad config files and values are one-line UsageErrors", () => {
  const oneLine = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, re);
      return true;
    });
  withConfigFile({ batch_sise: 3 }, (p) => {
    oneLine(() => trainConfigFromFlags(parse(["--config", p])), /unknown key "batch_sise"/);
  });
  withConfigFile({ batch_size: "many" }, (p) => {
    oneLine(() => trainConfigFromFlags(parse(["--config", p])), /batch-size must be a number/);
  });
  withConfigFile("{ not json", (p) => {
    oneLine(() => trainConfigFromFlags(parse(["--config", p])), /Cannot parse config file/);
  });
  withConfigFile([1, 2], (p) => {
    oneLine(() => trainConfigFromFlags(parse(["--config", p])), /JSON object/);
  });
  oneLine(() => trainConfigFromFlags(parse(["--config", "/nonexistent/x.json"])), /Cannot read/);
  oneLine(
    () => trainConfigFromFlags(parse(["--batch-size", "0"])),
    /batch_size must be a positive/,
  );
  oneLine(() => trainConfigFromFlags(parse(["--batch-size", "2.5"])), /batch_size/);
  oneLine(() => trainConfigFromFlags(parse(["--max-iters=-1"])), /max_iters/);
  oneLine(() => trainConfigFromFlags(parse(["--vocab-size", "512"])), /llama2 has 32000/);
  oneLine(
    () => trainConfigFromFlags(parse(["--vocab-source", "custom", "--vocab-size", "70000"])),
    /uint16/,
  );
  oneLine(() => trainConfigFromFlags(parse(["--n-heads", "5"])), /not divisible by n_heads/);
  oneLine(() => trainConfigFromFlags(parse(["--n-kv-heads", "4"])), /not a multiple/);
  oneLine(() => trainConfigFromFlags(parse(["--beta2", "1"])), /beta2 must be in/);
  oneLine(() => trainConfigFromFlags(parse(["--dropout=-0.1"])), /dropout/);
  oneLine(() => trainConfigFromFlags(parse(["--peak-flops", "0"])), /peak_flops/);
  oneLine(() => trainConfigFromFlags(parse(["--seed=-3"])), /seed/);
  assert.throws(() => parse(["--init-from", "finetune"]), UsageError);
});
