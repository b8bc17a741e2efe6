import assert from "node:assert/strict";
import { join } from "node:path";
import { type LogRecord, lossSeries, parseLog, TrainLog } from "../../src/train/log.ts";
import { downsample, lossPlotSvg, niceTicks } from "../../src/train/plot.ts";

/** A plausible run: train loss decaying with noise, an eval every 50 steps. */
async function fakeRun(log: TrainLog, from: number, to: number): Promise<void> {
  for (let it = from; it < to; it++) {
    if (it % 50 === 0) {
      const l = 2 + 8 * Math.exp(-it / 80);
      await log.eval({ iter: it, train_loss: l, val_loss: l + 0.05, lr: 1e-4 });
    }
    const loss = 2 + 8 * Math.exp(-it / 80) + 0.2 * Math.sin(it * 1.7);
    await log.train({ iter: it, loss, lr: 1e-4, ms: 100, tokens_per_s: 1000, mfu: -1 });
  }
}

Deno.test("TrainLog writes one JSON line per record and a loss.svg", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "out");
    {
      await using log = await TrainLog.open(out, { plotIntervalMs: 0 });
      await fakeRun(log, 0, 201);
    }
    const text = await Deno.readTextFile(join(out, "log.jsonl"));
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 201 + 5);
    const recs = lines.map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(recs[0]), [
      "type",
      "iter",
      "train_loss",
      "val_loss",
      "lr",
      "time",
    ]);
    assert.deepEqual(Object.keys(recs[1]), [
      "type",
      "iter",
      "loss",
      "lr",
      "ms",
      "tokens_per_s",
      "mfu",
      "time",
    ]);
    assert.ok(!Number.isNaN(Date.parse(recs[1].time)));
    const svg = await Deno.readTextFile(join(out, "loss.svg"));
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /val loss \(eval\)/);
    assert.match(svg, /<\/svg>\n$/);
    // No temp files are left behind.
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
      "log.jsonl",
      "loss.svg",
    ]);

    // Resuming at step 100 drops the records from 100 on, then appends.
    {
      await using log = await TrainLog.open(out, { resumeIter: 100 });
      assert.equal(log.records.length, 100 + 2);
      assert.ok(log.records.every((r) => r.iter < 100));
      await fakeRun(log, 100, 120);
    }
    const again = parseLog(await Deno.readTextFile(join(out, "log.jsonl")));
    assert.equal(again.length, 120 + 3);
    assert.deepEqual(again.filter((r) => r.type === "train").map((r) => r.iter), [
      ...Array(120).keys(),
    ]);
    // A fresh open truncates.
    {
      await using log = await TrainLog.open(out);
      assert.equal(log.records.length, 0);
    }
    assert.equal(await Deno.readTextFile(join(out, "log.jsonl")), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseLog ignores a torn last line and rejects other bad lines", () => {
  const good =
    '{"type":"train","iter":1,"loss":2,"lr":0,"ms":1,"tokens_per_s":1,"mfu":-1,"time":""}';
  assert.equal(parseLog(`${good}\n${good}\n{"type":"tr`).length, 2);
  assert.throws(() => parseLog(`{"type":"tr\n${good}\n`), SyntaxError);
  assert.throws(() => parseLog(`{"type":"other","iter":1}\n`), SyntaxError);
});

Deno.test("niceTicks covers the range with 1-2-5 steps", () => {
  assert.deepEqual(niceTicks(0, 10, 5).ticks, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(1.83, 10.41, 6).ticks, [0, 2, 4, 6, 8, 10, 12]);
  const t = niceTicks(0, 100000, 8);
  assert.deepEqual(t.ticks, [0, 20000, 40000, 60000, 80000, 100000]);
  const one = niceTicks(5, 5);
  assert.ok(one.lo < 5 && one.hi > 5);
});

Deno.test("downsample bucket-averages long curves", () => {
  const pts: [number, number][] = Array.from({ length: 10 }, (_, i) => [i, i * 2]);
  assert.deepEqual(downsample(pts, 20), pts);
  assert.deepEqual(downsample(pts, 5), [[0.5, 1], [2.5, 5], [4.5, 9], [6.5, 13], [8.5, 17]]);
});

Deno.test("lossPlotSvg places points by their values", () => {
  const recs: LogRecord[] = [
    { type: "train", iter: 0, loss: 10, lr: 0, ms: 1, tokens_per_s: 1, mfu: -1, time: "" },
    { type: "train", iter: 100, loss: 0, lr: 0, ms: 1, tokens_per_s: 1, mfu: -1, time: "" },
    { type: "eval", iter: 50, train_loss: 5, val_loss: 6, lr: 0, time: "" },
  ];
  const svg = lossPlotSvg(lossSeries(recs), { width: 800, height: 450 });
  // Plot area: x 64..780 (iter 0..100), y 40..398 (loss 10..0).
  assert.match(svg, /<path d="M64\.0 40\.0L780\.0 398\.0"/);
  assert.match(svg, /<circle cx="422\.0" cy="219\.0"/); // (50, 5)
  assert.match(svg, /<circle cx="422\.0" cy="183\.2"/); // (50, 6)
  assert.match(lossPlotSvg(lossSeries([])), /no data yet/);
});
