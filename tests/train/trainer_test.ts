/**
 * The training loop on real text: a tiny model's loss falls on the TinyStories sample; a run
 * killed after a checkpoint and resumed logs the same losses as an uninterrupted run; export v0
 * of the checkpoint evaluates to the same loss as the checkpoint itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCommand } from "../../src/cli/args.ts";
import { TRAIN_FLAGS, trainConfigFromFlags } from "../../src/train/config.ts";
import { train } from "../../src/train/trainer.ts";
import { parseLog, type TrainRecord } from "../../src/train/log.ts";
import { loadCheckpoint } from "../../src/io/checkpoint.ts";
import { readLlama2cFile } from "../../src/io/llama2c.ts";
import { evaluateTokens, tokensFromBytes } from "../../src/model/evaluate.ts";
import { REPO_ROOT, sharedFile } from "../helpers/data.ts";
import { testGpu } from "../helpers/gpu.ts";

const sample = await sharedFile("tinystories_valid_sample.llama2.bin");

/** A data dir with the sample split in two shards: data00 (val, first 20%) and data01 (train). */
async function dataDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_train_" });
  const bytes = await Deno.readFile(sample!);
  const cut = Math.floor(bytes.length / 10) * 2;
  await Deno.mkdir(join(dir, "TinyStories_all_data"));
  await Deno.writeFile(join(dir, "TinyStories_all_data", "data00.bin"), bytes.subarray(0, cut));
  await Deno.writeFile(join(dir, "TinyStories_all_data", "data01.bin"), bytes.subarray(cut));
  return dir;
}

const TINY = [
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
  ignore: sample === null,
  fn: async () => {
    const gpu = await testGpu();
    const data = await dataDir();
    try {
      const args = [
        ...TINY,
        `--data-dir=${data}`,
        `--out-dir=${data}/out`,
        "--max-iters=40",
        "--learning-rate=3e-3",
        "--eval-interval=40",
      ];
      const cfg = trainConfigFromFlags(parseCommand(TRAIN_FLAGS, args).values);
      const lines: string[] = [];
      const res = await train(gpu, cfg, { print: (s) => lines.push(s) });
      const losses = await trainLosses(cfg.out_dir);
      const first = losses.get(0)!, last = res.lastLoss;
      console.log(
        `  loss ${first.toFixed(3)} -> ${last.toFixed(3)} in 40 iterations; best val ${
          res.bestValLoss.toFixed(3)
        }`,
      );
      assert.ok(first > 10, `initial loss ${first} should be near ln(32000) = 10.37`);
      assert.ok(last < first - 3, `loss fell only from ${first} to ${last}`);
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
    env: { XDG_RUNTIME_DIR: "/tmp" },
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
  ignore: sample === null,
  fn: async () => {
    const data = await dataDir();
    try {
      const common = [
        ...TINY,
        `--data-dir=${data}`,
        "--max-iters=12",
        "--eval-interval=6",
        "--always-save-checkpoint",
        "--dropout=0.1",
      ];
      await runCli([...common, `--out-dir=${data}/a`]);
      const code = await runCli([...common, `--out-dir=${data}/b`], 8);
      assert.notEqual(code, 0, "the first run of b should have been killed");
      assert.equal((await loadCheckpoint(`${data}/b`)).iter, 6);
      await runCli([...common, `--out-dir=${data}/b`, "--init-from=resume"]);
      const a = await trainLosses(`${data}/a`), b = await trainLosses(`${data}/b`);
      assert.equal(a.size, 13);
      for (const [iter, loss] of a) {
        assert.equal(b.get(iter), loss, `iter ${iter}: ${b.get(iter)} vs ${loss}`);
      }
      console.log(`  losses of iterations 0..12 identical after kill at >= 8 and resume from 6`);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name: "export v0 of a checkpoint evaluates to the same loss as the checkpoint",
  ignore: sample === null,
  fn: async () => {
    const gpu = await testGpu();
    const data = await dataDir();
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
        env: { XDG_RUNTIME_DIR: "/tmp" },
      }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      const tokens = tokensFromBytes(
        (await Deno.readFile(join(data, "TinyStories_all_data", "data00.bin"))).subarray(
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
  ignore: sample === null,
  fn: async () => {
    const data = await dataDir();
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
