/**
 * Data-parallel training under Open MPI's mpirun, against single-process training on the same
 * windows: 2 ranks x B x accumulation 1 (each) equals 1 process x B x accumulation 2; a
 * checkpoint moves between world sizes (2 ranks -> 1 process, 1 process -> 2 ranks) and the
 * run continues as the uninterrupted one; a rank killed with SIGKILL ends the job (no hang) and
 * leaves the last checkpoint loadable; settings that differ between ranks end the job with one
 * line; a diverging run stops every rank with one line (the NaN guard is collective); `--ddp`
 * without Open MPI says how to install it.
 *
 * Tiny model on real text: byte-level tokens (vocab 256) of the TinyStories sample, dim 32, one
 * layer, B 4 x T 32, dropout 0.1 (so the per-micro-batch dropout seeds are checked too).
 *
 * Tolerance: the ranks see exactly the windows the single process sees, but a gradient is
 * summed in another order (the single process adds micro-batch 2's per-tile partial sums into
 * the buffer that holds micro-batch 1's gradient; two ranks each sum their own micro-batch and
 * MPI adds the two totals), so gradients differ by float32 rounding (about 1e-7 relative), which
 * AdamW carries into the parameters. Measured: parameters within 1.2e-7 after 8 steps. The
 * bound used, 2e-5 on losses (about 5.5) and parameters (at most about 1), is 100 times that.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLog } from "../../src/train/log.ts";
import { loadCheckpoint } from "../../src/io/checkpoint.ts";
import { sharedFile } from "../helpers/data.ts";
import { mpiAvailable, mpirunArgs, runProcess, type RunResult } from "../helpers/mpi.ts";

const TOL = 2e-5;
const text = await sharedFile("tinystories_valid_sample.txt");
const haveMpi = mpiAvailable();

/** A data dir with byte tokens of the sample: tok256/data00.bin (val, 20%) and data01.bin. */
async function byteData(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "babyllama_ddp_" });
  const bytes = await Deno.readFile(text!);
  const tokens = new Uint16Array(bytes); // little-endian on every platform Deno runs on
  const cut = Math.floor(tokens.length / 5);
  await Deno.mkdir(join(dir, "tok256"));
  await Deno.writeFile(join(dir, "tok256", "data00.bin"), _u8(tokens.subarray(0, cut)));
  await Deno.writeFile(join(dir, "tok256", "data01.bin"), _u8(tokens.subarray(cut)));
  return dir;
}

function _u8(a: Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const TINY = [
  "--vocab-source=custom",
  "--vocab-size=256",
  "--dim=32",
  "--n-layers=1",
  "--n-heads=4",
  "--n-kv-heads=2",
  "--batch-size=4",
  "--max-seq-len=32",
  "--gradient-accumulation-steps=2",
  "--dropout=0.1",
  "--learning-rate=3e-3",
  "--warmup-iters=2",
  "--max-iters=12",
  "--eval-interval=6",
  "--eval-iters=3",
  "--always-save-checkpoint",
];

const train = (data: string, out: string, ...extra: string[]) => [
  "train",
  ...TINY,
  `--data-dir=${data}`,
  `--out-dir=${join(data, out)}`,
  ...extra,
];

const single = (args: string[], opts = {}) =>
  runProcess(Deno.execPath(), ["run", "-A", "main.ts", ...args], opts);
const mpirun = (np: number, args: string[], opts = {}) =>
  runProcess("mpirun", mpirunArgs(np, args), opts);

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** Train and eval losses from log.jsonl: `t<iter>` and `v<iter>`/`e<iter>` keys. */
async function losses(outDir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of parseLog(await Deno.readTextFile(join(outDir, "log.jsonl")))) {
    if (r.type === "train") out.set(`train ${r.iter}`, r.loss);
    else {
      out.set(`eval-train ${r.iter}`, r.train_loss);
      out.set(`eval-val ${r.iter}`, r.val_loss);
    }
  }
  return out;
}

/** Asserts two runs' losses and final parameters agree within {@link TOL}; returns the worst. */
async function assertSameRun(a: string, b: string): Promise<{ loss: number; param: number }> {
  const la = await losses(a), lb = await losses(b);
  assert.deepEqual([...lb.keys()].sort(), [...la.keys()].sort(), "the runs logged different steps");
  let loss = 0;
  for (const [k, v] of la) {
    const d = Math.abs(v - lb.get(k)!);
    assert.ok(d <= TOL, `${k}: ${v} vs ${lb.get(k)} (difference ${d})`);
    loss = Math.max(loss, d);
  }
  const ca = await loadCheckpoint(a), cb = await loadCheckpoint(b);
  assert.equal(cb.iter, ca.iter);
  assert.deepEqual(cb.rngState, ca.rngState, "the samplers ended in different states");
  let param = 0;
  for (const k of ["params", "adamM", "adamV"] as const) {
    for (let i = 0; i < ca[k].length; i++) {
      const d = Math.abs(ca[k][i] - cb[k][i]);
      if (!(d <= TOL)) assert.fail(`${k}[${i}]: ${ca[k][i]} vs ${cb[k][i]}`);
      if (k === "params") param = Math.max(param, d);
    }
  }
  return { loss, param };
}

let _ref: Promise<string> | null = null;
/** The reference: one process, accumulation 2, 12 steps (run once for all tests). */
function reference(data: string): Promise<string> {
  _ref ??= single(train(data, "ref")).then((r) => (ok(r, "reference run"), join(data, "ref")));
  return _ref;
}

const data = text && haveMpi ? await byteData() : "";
const ignore = !text || !haveMpi;

Deno.test({
  name: "2 ranks x B x accumulation 1 equal 1 process x B x accumulation 2 (losses, parameters)",
  ignore,
  fn: async () => {
    const ref = await reference(data);
    const r = ok(await mpirun(2, train(data, "mpi2")), "mpirun -np 2");
    assert.match(r.stdout, /tokens per iteration 256 \(1 x 2 ranks x 4 x 32\)/);
    assert.equal(r.stdout.match(/^model: /gm)?.length, 1, "only rank 0 prints");
    const worst = await assertSameRun(ref, join(data, "mpi2"));
    console.log(
      `  2 ranks vs 1 process: losses within ${worst.loss.toExponential(1)}, parameters within ${
        worst.param.toExponential(1)
      } (${r.seconds.toFixed(1)} s)`,
    );
  },
});

Deno.test({
  name:
    "a rank killed with SIGKILL ends the job with an error and no hang; its last checkpoint resumes in 1 process",
  ignore,
  fn: async () => {
    const ref = await reference(data);
    const r = await mpirun(2, train(data, "killed"), { kill: { rank: 1, afterIter: 8 } });
    assert.notEqual(r.code, 0, "the job should fail when a rank dies");
    assert.match(r.stderr + r.stdout, /rank 1 .*exited on signal 9/);
    const ck = await loadCheckpoint(join(data, "killed"));
    assert.equal(ck.iter, 6, "the checkpoint of step 6 is the last one, intact");
    ok(await single(train(data, "killed", "--init-from=resume")), "resume in 1 process");
    const worst = await assertSameRun(ref, join(data, "killed"));
    console.log(
      `  job ended ${r.code} in ${r.seconds.toFixed(1)} s; resumed on 1 process: losses within ${
        worst.loss.toExponential(1)
      }`,
    );
  },
});

Deno.test({
  name: "a single-process checkpoint resumes on 2 ranks as the uninterrupted run",
  ignore,
  fn: async () => {
    const ref = await reference(data);
    const r = await single(train(data, "one"), {
      signalSelf: { afterIter: 8, signal: "SIGKILL" },
    });
    assert.equal(r.code, 137);
    assert.equal((await loadCheckpoint(join(data, "one"))).iter, 6);
    ok(await mpirun(2, train(data, "one", "--init-from=resume")), "resume on 2 ranks");
    const worst = await assertSameRun(ref, join(data, "one"));
    console.log(`  resumed on 2 ranks: losses within ${worst.loss.toExponential(1)}`);
  },
});

Deno.test({
  name: "SIGUSR2 to mpirun stops every rank after the same step; rank 0 saves that state, exit 130",
  ignore,
  fn: async () => {
    const r = await mpirun(2, train(data, "usr2", "--max-iters=100000", "--eval-interval=1000"), {
      signalSelf: { afterIter: 3, signal: "SIGUSR2" },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr.match(/^interrupt: /gm)?.length, 1, "rank 0 alone reports it");
    const last = Math.max(...[...r.stdout.matchAll(/^(\d+) \| loss/gm)].map((m) => Number(m[1])));
    const ck = await loadCheckpoint(join(data, "usr2"));
    assert.equal(ck.iter, last + 1, "the checkpoint holds the state after the last step");
  },
});

Deno.test({
  name: "a diverging 2-rank run stops on every rank after the same step, with one line from rank 0",
  ignore,
  fn: async () => {
    const r = await mpirun(2, train(data, "nan", "--learning-rate=1e4", "--eval-interval=1"));
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1, r.stderr);
    const m = /^error: Cannot train: iter (\d+) has loss .* keeps the checkpoint of iter (\d+);/
      .exec(errors[0]);
    assert.ok(m, errors[0]);
    const ck = await loadCheckpoint(join(data, "nan")); // finite, or loading throws
    assert.equal(ck.iter, Number(m[2]));
  },
});

Deno.test({
  name: "ranks with different settings end with one error line, no hang",
  ignore,
  fn: async () => {
    const base = mpirunArgs(1, train(data, "mismatch"));
    const other = mpirunArgs(1, train(data, "mismatch", "--batch-size=2")).slice(1);
    const r = await runProcess("mpirun", [...base, ":", ...other], { timeoutS: 60 });
    assert.notEqual(r.code, 0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.deepEqual(errors, [
      "error: Cannot start data-parallel training: settings differ from rank 0's " +
      "(batch_size 2, rank 0 has 4); give every rank the same flags (on rank 1)",
    ]);
    const odd = await mpirun(2, train(data, "odd", "--gradient-accumulation-steps=3"));
    assert.match(odd.stderr, /^error: .*gradient_accumulation_steps 3 is not divisible by the 2/m);
  },
});

Deno.test({
  name: "--ddp without Open MPI's library fails with one line naming apt-get install openmpi-bin",
  fn: async () => {
    const r = await single(["train", "--ddp", "--max-iters=1"], {
      env: { BABYLLAMA_MPI_LIB: "/nonexistent/libmpi.so.40" },
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: Cannot start data-parallel training.*apt-get install openmpi-bin/,
    );
  },
});

globalThis.addEventListener("unload", () => {
  if (data) Deno.removeSync(data, { recursive: true });
});
