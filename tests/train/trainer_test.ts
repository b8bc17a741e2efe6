/**
 * The training loop on real text: a tiny model's loss falls on the TinyStories sample; a run
 * killed after a checkpoint and resumed logs the same losses as an uninterrupted run; export v0
 * of the checkpoint evaluates to the same loss as the checkpoint itself; Ctrl-C and non-finite
 * steps end a run cleanly.
 *
 * Sizes: the sample's text as byte tokens (vocab 256, as tests/train/ddp_test.ts), or its Llama 2
 * ids mod 512. Nothing asserted here depends on the vocabulary's size (the loop, the checkpoint,
 * the resume, the export are the same code for any V), and a 32000-row classifier made a tiny
 * model's step 10x slower on a CPU adapter; the Llama 2 vocabulary is trained through the CLI in
 * tests/pipeline_test.ts and checked against PyTorch at the 15M shape in tests/model/model_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCommand } from "../../src/cli/args.ts";
import { TRAIN_FLAGS, trainConfigFromFlags } from "../../src/train/config.ts";
import { train } from "../../src/train/trainer.ts";
import { parseLog, type TrainRecord } from "../../src/train/log.ts";
import { existsSync } from "node:fs";
import { loadCheckpoint } from "../../src/io/checkpoint.ts";
import { loadModel } from "../../src/io/model_file.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { evaluateTokens, tokensFromBytes } from "../../src/model/evaluate.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { testGpu } from "../helpers/gpu.ts";

const sample = await sharedFile("tinystories_valid_sample.llama2.bin");
const sampleText = await sharedFile("tinystories_valid_sample.txt");

/**
 * A data dir with the sample text as byte tokens (vocab 256): tok256/data00.bin (val, the
 * first 20%) and tok256/data01.bin (train).
 */
async function byteDataDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_train_" });
  const tokens = new Uint16Array(await Deno.readFile(sampleText!)); // little-endian everywhere Deno runs
  const bytes = new Uint8Array(tokens.buffer);
  const cut = Math.floor(tokens.length / 5) * 2;
  await Deno.mkdir(join(dir, "tok256"));
  await Deno.writeFile(join(dir, "tok256", "data00.bin"), bytes.subarray(0, cut));
  await Deno.writeFile(join(dir, "tok256", "data01.bin"), bytes.subarray(cut));
  return dir;
}

/** Entropy (nats) of the byte frequencies of a tok256 shard: the best loss without context. */
async function unigramEntropy(shard: string): Promise<number> {
  const b = await Deno.readFile(shard);
  const ids = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
  const counts = new Map<number, number>();
  for (const t of ids) counts.set(t, (counts.get(t) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

const TINY = [
  "--vocab-source=custom",
  "--vocab-size=256",
  "--dim=64",
  "--n-layers=2",
  "--n-heads=4",
  "--n-kv-heads=2",
  "--batch-size=4",
  "--max-seq-len=64",
  "--gradient-accumulation-steps=2",
  "--eval-iters=2",
  "--warmup-iters=5",
];

async function trainLosses(outDir: string): Promise<Map<number, number>> {
  const recs = parseLog(await Deno.readTextFile(join(outDir, "log.jsonl")));
  return new Map(
    recs.filter((r): r is TrainRecord => r.type === "train").map((r) => [r.iter, r.loss]),
  );
}

Deno.test({
  name: "training a tiny model on the TinyStories sample lowers the loss clearly",
  ignore: sampleText === null,
  fn: async () => {
    const gpu = await testGpu();
    const data = await byteDataDir();
    try {
      const args = [
        ...TINY,
        `--data-dir=${data}`,
        `--out-dir=${data}/out`,
        "--max-iters=40",
        "--learning-rate=1e-2",
        "--eval-interval=40",
      ];
      const cfg = trainConfigFromFlags(parseCommand(TRAIN_FLAGS, args).values);
      const lines: string[] = [];
      const res = await train(gpu, cfg, { print: (s) => lines.push(s) });
      const losses = await trainLosses(cfg.out_dir);
      const first = losses.get(0)!;
      // The mean of the last 10 steps' losses: one step's batch of 256 bytes varies by +-0.2.
      const last10 = [...losses].filter(([it]) => it > 30).map(([, l]) => l);
      assert.equal(last10.length, 10);
      const last = last10.reduce((a, b) => a + b) / last10.length;
      const h1 = await unigramEntropy(join(data, "tok256", "data01.bin"));
      console.log(
        `  loss ${first.toFixed(3)} -> ${last.toFixed(3)} (mean of iterations 31..40) in 40 ` +
          `iterations; best val ${res.bestValLoss.toFixed(3)}; byte entropy of the training ` +
          `text ${h1.toFixed(3)}`,
      );
      // An untrained model predicts nearly uniformly; 40 steps learn most of what the byte
      // frequencies alone give (ln 256 - h1 = 2.46 nats on this text), on the unseen split too.
      assert.ok(
        Math.abs(first - Math.log(256)) < 0.1,
        `initial loss ${first} should be near ln(256) = 5.545`,
      );
      assert.ok(last < first - 2, `loss fell only from ${first} to ${last}`);
      assert.ok(
        res.bestValLoss < first - 2,
        `val loss fell only from ${first} to ${res.bestValLoss}`,
      );
      assert.equal(res.lastLoss, losses.get(40));
      const ckpt = await loadCheckpoint(cfg.out_dir);
      assert.equal(ckpt.iter, 40);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

async function runCli(
  args: string[],
  killAfterIter?: number,
  signal: Deno.Signal = "SIGKILL",
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "train", ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp", BABYLLAMA_TUNE: "off" },
  }).spawn();
  const dec = new TextDecoder();
  let out = "";
  const stderr = child.stderr.pipeTo(
    new WritableStream({ write: (c) => void (out += dec.decode(c)) }),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let killed = false;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = [...buf.matchAll(/^(\d+) \| loss/gm)].at(-1);
    if (!killed && killAfterIter !== undefined && m && Number(m[1]) >= killAfterIter) {
      child.kill(signal);
      killed = true;
    }
  }
  const status = await child.status;
  await stderr.catch(() => {});
  if (!killed && status.code !== 0) {
    throw new Error(`train failed (${status.code}): ${out}\n${buf}`);
  }
  return status.code;
}

Deno.test({
  name: "a run killed after a checkpoint and resumed logs the same losses as an uninterrupted run",
  ignore: sampleText === null,
  fn: async () => {
    const data = await byteDataDir();
    try {
      const common = [
        ...TINY,
        `--data-dir=${data}`,
        "--max-iters=20",
        "--eval-interval=10",
        "--always-save-checkpoint",
        "--dropout=0.1",
      ];
      await runCli([...common, `--out-dir=${data}/a`]);
      // Killed 2 steps after the checkpoint of iter 10 (a step takes ~0.1 s here): 8 steps and
      // an eval before the next checkpoint leave the kill time to land.
      const code = await runCli([...common, `--out-dir=${data}/b`], 12);
      assert.notEqual(code, 0, "the first run of b should have been killed");
      assert.equal((await loadCheckpoint(`${data}/b`)).iter, 10);
      await runCli([...common, `--out-dir=${data}/b`, "--init-from=resume"]);
      const a = await trainLosses(`${data}/a`), b = await trainLosses(`${data}/b`);
      assert.equal(a.size, 21);
      for (const [iter, loss] of a) {
        assert.equal(b.get(iter), loss, `iter ${iter}: ${b.get(iter)} vs ${loss}`);
      }
      console.log(`  losses of iterations 0..20 identical after kill at >= 12 and resume from 10`);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name: "export v0 of a checkpoint evaluates to the same loss as the checkpoint",
  ignore: sampleText === null,
  fn: async () => {
    const gpu = await testGpu();
    const data = await byteDataDir();
    try {
      const out = `${data}/out`;
      const cfg = trainConfigFromFlags(
        parseCommand(TRAIN_FLAGS, [
          ...TINY,
          `--data-dir=${data}`,
          `--out-dir=${out}`,
          "--max-iters=4",
          "--eval-interval=2",
        ]).values,
      );
      await train(gpu, cfg, { print: () => {} });
      const exported = `${data}/exported.bin`;
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "main.ts",
          "export",
          "--checkpoint",
          out,
          "--format",
          "v0",
          "--out",
          exported,
        ],
        cwd: REPO_ROOT,
        env: { XDG_RUNTIME_DIR: "/tmp", BABYLLAMA_TUNE: "off" },
      }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      const tokens = tokensFromBytes(
        (await Deno.readFile(join(data, "tok256", "data00.bin"))).subarray(
          0,
          2 * 2000,
        ),
      );
      const ckpt = await loadCheckpoint(out);
      const fromCkpt = await evaluateTokens(gpu, ckpt.config, ckpt.params, tokens, 64, 4);
      const v0 = await readLlama2cFile(exported);
      const fromV0 = await evaluateTokens(
        gpu,
        v0.config,
        v0.params as Float32Array<ArrayBuffer>,
        tokens,
        64,
        4,
      );
      console.log(`  checkpoint ${fromCkpt.loss} vs exported v0 ${fromV0.loss}`);
      assert.equal(fromV0.loss, fromCkpt.loss);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Ctrl-C (SIGINT) finishes the step, saves a checkpoint of the state after the last step and exits 130",
  ignore: sampleText === null,
  fn: async () => {
    const data = await byteDataDir();
    try {
      const args = [
        ...TINY,
        `--data-dir=${data}`,
        "--max-iters=1000",
        "--eval-interval=1000",
        `--out-dir=${data}/c`,
      ];
      const code = await runCli(args, 2, "SIGINT");
      assert.equal(code, 130);
      const ckpt = await loadCheckpoint(`${data}/c`);
      assert.ok(ckpt.iter >= 3, `checkpoint at iter ${ckpt.iter}`);
      const last = Math.max(...(await trainLosses(`${data}/c`)).keys());
      assert.equal(
        ckpt.iter,
        last + 1,
        "the checkpoint holds the state after the last logged step",
      );
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

/**
 * A data dir with a 512-token vocab (tok512/): the sample's Llama 2 ids mod 512, data00.bin (val,
 * the first 20%) and data01.bin (train).
 */
async function dataDir512(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_train512_" });
  const bytes = await Deno.readFile(sample!);
  const ids = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2).map((t) => t % 512);
  const out = new Uint8Array(ids.buffer);
  const cut = Math.floor(out.length / 10) * 2;
  await Deno.mkdir(join(dir, "tok512"));
  await Deno.writeFile(join(dir, "tok512", "data00.bin"), out.subarray(0, cut));
  await Deno.writeFile(join(dir, "tok512", "data01.bin"), out.subarray(cut));
  return dir;
}

const TINY512 = [
  "--vocab-source=custom",
  "--vocab-size=512",
  "--dim=64",
  "--n-layers=2",
  "--n-heads=4",
  "--n-kv-heads=2",
  "--batch-size=4",
  "--max-seq-len=64",
  "--gradient-accumulation-steps=1",
  "--eval-iters=2",
  "--warmup-iters=5",
];

/** Runs main.ts train; resolves to exit code, stdout and stderr. */
async function trainCli(args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "train", ...args],
    cwd: REPO_ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", BABYLLAMA_TUNE: "off" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test({
  name: "a diverging run stops with one line naming the iteration and keeps a finite checkpoint",
  ignore: sample === null,
  fn: async () => {
    const data = await dataDir512();
    try {
      const out = `${data}/div`;
      const r = await trainCli([
        ...TINY512,
        `--data-dir=${data}`,
        `--out-dir=${out}`,
        "--max-iters=30",
        "--eval-interval=5",
        "--always-save-checkpoint",
        "--learning-rate=1e4",
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const errors = r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
      assert.equal(errors.length, 1, r.stderr);
      const m =
        /^error: Cannot train: iter (\d+) has loss \S+ and gradient norm \S+; its update was not applied and the run stops \((.*) keeps the checkpoint of iter (\d+);/
          .exec(errors[0]);
      assert.ok(m, errors[0]);
      console.log(`  ${errors[0]}`);
      const bad = Number(m[1]);
      assert.ok(bad < 30, "stopped before max_iters");
      // the checkpoint and model.bin hold finite weights (loading checks), best val loss is real
      const ckpt = await loadCheckpoint(out);
      assert.equal(ckpt.iter, Number(m[3]));
      assert.ok(ckpt.iter <= bad);
      assert.ok(Number.isFinite(ckpt.bestValLoss), `best val loss ${ckpt.bestValLoss}`);
      const bin = await loadModel(join(out, "model.bin"));
      assert.deepEqual(bin.params, ckpt.params);
      // no training log line after the bad step, and the lock is gone
      const iters = [...(await trainLosses(out)).keys()];
      assert.ok(Math.max(...iters) <= bad, `logged ${iters}`);
      assert.ok(!existsSync(join(out, "train.lock")));
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name: "--on-nan skip skips non-finite steps with a warning and gives up after 10 in a row",
  ignore: sample === null,
  fn: async () => {
    const data = await dataDir512();
    try {
      const out = `${data}/skip`;
      const r = await trainCli([
        ...TINY512,
        `--data-dir=${data}`,
        `--out-dir=${out}`,
        "--max-iters=40",
        "--eval-interval=5",
        "--always-save-checkpoint",
        "--learning-rate=1e4",
        "--on-nan",
        "skip",
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const warnings = r.stdout.split("\n").filter((l) =>
        l.startsWith("warning: skipped the update")
      );
      assert.equal(warnings.length, 9, r.stdout);
      assert.match(warnings[8], /9 in a row/);
      assert.match(
        r.stderr.trim().split("\n").at(-1)!,
        /^error: Cannot train: 10 steps in a row \(iters (\d+)\.\.(\d+)\) had a non-finite loss or gradient norm; --on-nan skip gives up after 10/,
      );
      const ckpt = await loadCheckpoint(out); // finite, or this throws
      assert.ok(Number.isFinite(ckpt.bestValLoss));
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

/** Starts main.ts train; `waitFor(re)` resolves once stdout has a line matching `re`. */
function spawnTrain(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "train", ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp", BABYLLAMA_TUNE: "off" },
  }).spawn();
  let stdout = "", stderr = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const pump = async (s: ReadableStream<Uint8Array>, err: boolean) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      if (err) stderr += chunk;
      else stdout += chunk;
      for (const w of waiters.filter((w) => w.re.test(stdout))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const done = Promise.all([pump(child.stdout, false), pump(child.stderr, true)]);
  return {
    child,
    waitFor: (re: RegExp) =>
      re.test(stdout)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ re, resolve })),
    finish: async () => {
      const status = await child.status;
      await done;
      return { code: status.code, stdout, stderr };
    },
  };
}

Deno.test({
  name: "Ctrl-C during an eval stops it at the next batch and saves the last trained state",
  ignore: sample === null,
  fn: async () => {
    const data = await dataDir512();
    try {
      const out = `${data}/int`;
      const common = [...TINY512, `--data-dir=${data}`, `--out-dir=${out}`];
      const first = await trainCli([...common, "--max-iters=3", "--eval-interval=3"]);
      assert.equal(first.code, 0, first.stderr);
      // Resumed at 3, it trains 3 and 4, then evaluates at 5: 2 x 3000 batches take minutes,
      // so only a stop at a batch boundary ends this quickly.
      const run = spawnTrain([
        ...common,
        "--init-from=resume",
        "--max-iters=9",
        "--eval-interval=5",
        "--eval-iters=3000",
      ]);
      await run.waitFor(/^4 \| loss/m);
      await new Promise((r) => setTimeout(r, 500)); // inside the eval at iter 5
      const t0 = performance.now();
      run.child.kill("SIGINT");
      const r = await run.finish();
      const s = (performance.now() - t0) / 1000;
      console.log(`  exited ${s.toFixed(1)} s after SIGINT`);
      assert.equal(r.code, 130, r.stderr);
      assert.ok(s < 30, `took ${s.toFixed(1)} s`);
      assert.match(
        r.stdout,
        /^resumed from .*ckpt-000001\.safetensors \(generation 1\) at iter 3/m,
      );
      assert.match(
        r.stdout,
        /^interrupted: stopped the eval at iter 5; saving the last trained state \(iter 5\) to /m,
      );
      assert.equal((await loadCheckpoint(out)).iter, 5);
      const evals = parseLog(await Deno.readTextFile(join(out, "log.jsonl"))).filter((x) =>
        x.type === "eval"
      );
      // (the resumed log drops records from iter 3 on, so only the step-0 eval remains)
      assert.deepEqual(evals.map((e) => e.iter), [0], "the cut eval at 5 is not logged");
      assert.ok(!existsSync(join(out, "train.lock")));
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});
