import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BatchBuffers,
  listShards,
  mmapAvailable,
  PretokDataset,
} from "../../src/data/dataset.ts";

/** Token i of shard s is s * 5000 + i (i < 5000): every window tells where it came from. */
function writeShards(dir: string, lengths: number[]): void {
  Deno.mkdirSync(dir, { recursive: true });
  lengths.forEach((n, s) => {
    const buf = new Uint8Array(2 * n);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) dv.setUint16(2 * i, s * 5000 + i, true);
    Deno.writeFileSync(join(dir, `data${String(s).padStart(2, "0")}.bin`), buf);
  });
}

function withData(lengths: number[], fn: (dataDir: string) => void, sub = "TinyStories_all_data") {
  const dataDir = Deno.makeTempDirSync();
  try {
    writeShards(join(dataDir, sub), lengths);
    fn(dataDir);
  } finally {
    Deno.removeSync(dataDir, { recursive: true });
  }
}

const batch = (B: number, T: number): BatchBuffers => ({
  x: new Uint32Array(B * T),
  y: new Int32Array(B * T),
});

const LENGTHS = [600, 1000, 700, 4000];

Deno.test("nextBatch rows are contiguous windows of one shard, y = x shifted by one", () => {
  withData(LENGTHS, (dataDir) => {
    for (const access of ["mmap", "pread"] as const) {
      if (access === "mmap" && !mmapAvailable()) continue;
      using ds = PretokDataset.open({
        dataDir,
        vocabSource: "llama2",
        vocabSize: 32000,
        seed: 1,
        access,
      });
      assert.equal(ds.access, access);
      assert.equal(ds.shardCount("val"), 1);
      assert.equal(ds.shardCount("train"), 3);
      assert.equal(ds.tokenCount("train"), 5700);
      const B = 64, T = 32, b = batch(B, T);
      const seenShards = new Set<number>();
      for (const split of ["train", "val"] as const) {
        for (let rep = 0; rep < 5; rep++) {
          ds.nextBatch(split, B, T, b);
          for (let r = 0; r < B; r++) {
            const x0 = b.x[r * T], shard = Math.floor(x0 / 5000), start = x0 % 5000;
            if (split === "val") assert.equal(shard, 0);
            else {
              assert.ok(shard >= 1 && shard <= 3);
              seenShards.add(shard);
            }
            assert.ok(start + T + 1 <= LENGTHS[shard], `window ${start}+${T + 1} past the end`);
            for (let t = 0; t < T; t++) {
              assert.equal(b.x[r * T + t], x0 + t);
              assert.equal(b.y[r * T + t], x0 + t + 1);
            }
          }
        }
      }
      assert.deepEqual([...seenShards].sort(), [1, 2, 3]);
    }
  });
});

Deno.test("nextBatch reaches both ends of a shard: start in [0, len - (T + 1)]", () => {
  withData([40, 35], (dataDir) => {
    using ds = PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 3 });
    const T = 32, b = batch(1, T), starts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      ds.nextBatch("train", 1, T, b);
      starts.add(b.x[0] % 5000);
    }
    assert.deepEqual([...starts].sort(), [0, 1, 2]); // len 35, T + 1 = 33: 3 starts
  });
});

Deno.test("batches are reproducible from the seed, and state restore continues the stream", () => {
  withData(LENGTHS, (dataDir) => {
    const open = (seed: number) =>
      PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed });
    using a = open(1337), b = open(1337), c = open(1338);
    const B = 4, T = 16;
    const ba = batch(B, T), bb = batch(B, T), bc = batch(B, T);
    a.nextBatch("train", B, T, ba);
    b.nextBatch("train", B, T, bb);
    c.nextBatch("train", B, T, bc);
    assert.deepEqual(ba, bb);
    assert.notDeepEqual(ba, bc);
    // Save mid-stream (through JSON as a checkpoint would), run on, restore, compare.
    a.nextBatch("val", B, T, ba);
    const saved = JSON.parse(JSON.stringify(a.rngState()));
    const next: BatchBuffers[] = [];
    for (let i = 0; i < 3; i++) {
      const x = batch(B, T);
      a.nextBatch(i === 1 ? "val" : "train", B, T, x);
      next.push(x);
    }
    c.setRngState(saved);
    for (let i = 0; i < 3; i++) {
      const x = batch(B, T);
      c.nextBatch(i === 1 ? "val" : "train", B, T, x);
      assert.deepEqual(x, next[i]);
    }
    // reseed restarts one split only.
    a.reseed("val", 5);
    b.reseed("val", 5);
    a.nextBatch("val", B, T, ba);
    b.nextBatch("val", B, T, bb);
    assert.deepEqual(ba, bb);
    assert.throws(() => a.setRngState({ train: [0, 0, 0, 0], val: [1, 2, 3, 4] }), TypeError);
  });
});

Deno.test("skipBatch draws the windows nextBatch would, so ranks can share one stream", () => {
  withData(LENGTHS, (dataDir) => {
    const open = () =>
      PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 7 });
    using all = open(), odd = open();
    const B = 3, T = 20;
    for (let k = 0; k < 6; k++) {
      const want = batch(B, T);
      all.nextBatch("train", B, T, want);
      if (k % 2 === 0) {
        odd.skipBatch("train", B, T);
        continue;
      }
      const got = batch(B, T);
      odd.nextBatch("train", B, T, got);
      assert.deepEqual(got, want, `batch ${k}`);
    }
    assert.deepEqual(odd.rngState(), all.rngState());
    assert.throws(() => odd.skipBatch("train", B, 5000), RangeError);
  });
});

Deno.test("mmap and positioned reads give identical batches", { ignore: !mmapAvailable() }, () => {
  withData(LENGTHS, (dataDir) => {
    const opts = { dataDir, vocabSource: "llama2" as const, vocabSize: 32000, seed: 9 };
    using m = PretokDataset.open({ ...opts, access: "mmap" });
    using p = PretokDataset.open({ ...opts, access: "pread" });
    const B = 8, T = 100, bm = batch(B, T), bp = batch(B, T);
    for (let i = 0; i < 10; i++) {
      const split = i % 3 === 0 ? "val" : "train";
      m.nextBatch(split, B, T, bm);
      p.nextBatch(split, B, T, bp);
      assert.deepEqual(bm, bp);
    }
  });
});

Deno.test("custom vocabularies read DATA_DIR/tok{N}", () => {
  withData([100, 100], (dataDir) => {
    assert.equal(listShards(dataDir, "custom", 8000).length, 2);
    using ds = PretokDataset.open({ dataDir, vocabSource: "custom", vocabSize: 8000, seed: 1 });
    const b = batch(2, 8);
    ds.nextBatch("train", 2, 8, b);
    assert.equal(Math.floor(b.x[0] / 5000), 1);
    // Token ids >= the vocabulary size are corrupt data.
    using small = PretokDataset.fromFiles(listShards(dataDir, "custom", 8000), 1, "auto", 5000);
    assert.throws(() => small.nextBatch("train", 2, 8, b), /vocab size is 5000/);
  }, "tok8000");
});

Deno.test("missing, short and malformed shards give one-line errors", () => {
  const dataDir = Deno.makeTempDirSync();
  try {
    assert.throws(
      () => PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 1 }),
      (e: Error) => {
        assert.ok(e.message.includes(join(dataDir, "TinyStories_all_data")), e.message);
        assert.match(e.message, /download.*pretokenize/);
        assert.ok(!e.message.includes("\n"));
        return true;
      },
    );
    assert.throws(
      () => PretokDataset.open({ dataDir, vocabSource: "custom", vocabSize: 512, seed: 1 }),
      /tok512.*train-vocab --vocab-size 512.*pretokenize --vocab-size 512/,
    );
  } finally {
    Deno.removeSync(dataDir, { recursive: true });
  }
  withData([100], (dataDir) => {
    assert.throws(
      () => PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 1 }),
      /at least two/,
    );
  });
  withData([100, 1000, 20], (dataDir) => {
    using ds = PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 1 });
    ds.nextBatch("val", 2, 64, batch(2, 64));
    assert.throws(() => ds.nextBatch("train", 2, 64, batch(2, 64)), /data02\.bin has only 20/);
    assert.throws(() => ds.nextBatch("val", 2, 64, batch(1, 64)), RangeError);
  });
  withData([100, 100], (dataDir) => {
    Deno.writeFileSync(join(dataDir, "TinyStories_all_data", "data02.bin"), new Uint8Array(7));
    for (const access of ["pread", ...(mmapAvailable() ? ["mmap" as const] : [])] as const) {
      assert.throws(
        () =>
          PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 1, access }),
        SyntaxError,
      );
    }
  });
});

Deno.test("without FFI permission the dataset falls back to positioned reads", async () => {
  const dataDir = Deno.makeTempDirSync();
  try {
    writeShards(join(dataDir, "TinyStories_all_data"), [300, 300]);
    const mod = new URL("../../src/data/dataset.ts", import.meta.url).href;
    const script = `
      import { PretokDataset } from ${JSON.stringify(mod)};
      const opts = { dataDir: ${
      JSON.stringify(dataDir)
    }, vocabSource: "llama2", vocabSize: 32000, seed: 4 };
      const ds = PretokDataset.open(opts);
      const b = { x: new Uint32Array(16), y: new Int32Array(16) };
      ds.nextBatch("train", 2, 8, b);
      let err = "";
      try { PretokDataset.open({ ...opts, access: "mmap" }); } catch (e) { err = e.message; }
      console.log(JSON.stringify({ access: ds.access, x: Array.from(b.x), err }));
    `;
    const file = join(dataDir, "probe.ts");
    Deno.writeTextFileSync(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-check", "--allow-read", "--allow-env", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text);
    assert.equal(r.access, "pread");
    assert.match(r.err, /Cannot memory-map token shards: FFI is unavailable/);
    // Same seed in this process gives the same batch.
    using ds = PretokDataset.open({ dataDir, vocabSource: "llama2", vocabSize: 32000, seed: 4 });
    const b = batch(2, 8);
    ds.nextBatch("train", 2, 8, b);
    assert.deepEqual(r.x, Array.from(b.x));
  } finally {
    Deno.removeSync(dataDir, { recursive: true });
  }
});
