import assert from "node:assert/strict";
import { sharedFile, sharedFixture } from "../helpers/data.ts";
import { runMain } from "../helpers/cli.ts";

const modelPath = await sharedFile("tokenizer.model");
const casesPath = await sharedFixture("llama2_tokenizer_cases.jsonl");

const runEncode = (args: string[], stdin: string) => runMain(["encode", ...args], stdin);

interface Case {
  text: string;
  ids: number[];
  decoded: string;
}

async function cases(): Promise<Case[]> {
  return (await Deno.readTextFile(casesPath!)).split("\n").filter((l) => l).map((l) =>
    JSON.parse(l)
  );
}

Deno.test({
  name: "encode CLI writes SentencePiece's ids for every JSON line, and --decode inverts them",
  ignore: modelPath === null || casesPath === null,
  fn: async () => {
    const cs = await cases();
    const enc = await runEncode(
      ["--tokenizer", modelPath!],
      cs.map((c) => JSON.stringify(c.text)).join("\n") + "\n",
    );
    assert.equal(enc.code, 0, enc.stderr);
    const got = enc.stdout.split("\n");
    assert.equal(got.pop(), "");
    assert.deepEqual(got.map((l) => JSON.parse(l)), cs.map((c) => c.ids));

    // --decode, with CRLF line ends and no final newline; --bos on encode
    const dec = await runEncode(
      ["--tokenizer", modelPath!, "--decode"],
      cs.map((c) => JSON.stringify(c.ids)).join("\r\n"),
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.deepEqual(
      dec.stdout.trimEnd().split("\n").map((l) => JSON.parse(l)),
      cs.map((c) => c.decoded),
    );
    const bos = await runEncode(["--tokenizer", modelPath!, "--bos"], JSON.stringify(cs[0].text));
    assert.deepEqual(JSON.parse(bos.stdout), [1, ...cs[0].ids]);
  },
});

Deno.test({
  name: "encode CLI names the bad line in a one-line error and exits 1",
  ignore: modelPath === null,
  fn: async () => {
    const bad = await runEncode(["--tokenizer", modelPath!], '"ok"\nnot json\n"never"\n');
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "[3431]\n"); // lines before the bad one are written
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /line 2/);
    const notString = await runEncode(["--tokenizer", modelPath!], "[1,2]\n");
    assert.equal(notString.code, 1);
    assert.match(notString.stderr, /line 1: expected a JSON string/);
    const badId = await runEncode(["--tokenizer", modelPath!, "--decode"], "[1]\n[32000]\n");
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /line 2: id 32000 is outside/);
    const noFlag = await runEncode([], "");
    assert.equal(noFlag.code, 2);
  },
});
