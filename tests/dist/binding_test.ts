/**
 * The launcher-binding warning: the rule on given facts, and under a real `mpirun -np 1`, which
 * binds its rank to one core unless told `--bind-to none`.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { bindingWarning } from "../../src/dist/binding.ts";
import { mpiAvailable, runProcess } from "../helpers/mpi.ts";

Deno.test("bindingWarning: fewer cores than this rank's share warns, a share or more does not", () => {
  const w = bindingWarning({ allowed: 1, cores: 16, localRanks: 1 });
  assert.match(w!, /^warning: this rank may use 1 of the machine's 16 cores/);
  assert.match(w!, /--bind-to none \(or --map-by slot:PE=16\) to give each rank 16$/);
  assert.match(bindingWarning({ allowed: 2, cores: 16, localRanks: 4 })!, /PE=4\b/);
  assert.equal(bindingWarning({ allowed: 4, cores: 16, localRanks: 4 }), null);
  assert.equal(bindingWarning({ allowed: 1, cores: 2, localRanks: 2 }), null);
  assert.equal(bindingWarning({ allowed: 1, cores: 3, localRanks: 2 }), null);
  assert.equal(bindingWarning({ allowed: 1, cores: 16, localRanks: null }), null);
  assert.equal(bindingWarning({ allowed: 1, cores: 1, localRanks: 1 }), null);
});

Deno.test({
  name:
    "mpirun -np 1 binds its rank to one core (warned on a multi-core machine); --bind-to none not",
  ignore: !mpiAvailable(),
  fn: async () => {
    const worker = new URL("./binding_worker.ts", import.meta.url).pathname;
    const run = async (extra: string[]) => {
      const r = await runProcess("mpirun", [
        ...extra,
        "-np",
        "1",
        Deno.execPath(),
        "run",
        "-A",
        worker,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    };
    const bound = await run([]);
    const free = await run(["--bind-to", "none"]);
    const cores = os.cpus().length;
    assert.equal(bound.facts.localRanks, 1);
    assert.equal(bound.facts.cores, cores);
    assert.equal(free.facts.allowed, cores);
    assert.equal(free.warning, null);
    if (cores > 1) {
      assert.equal(bound.facts.allowed, 1);
      assert.match(bound.warning, /may use 1 of the machine's/);
    } else assert.equal(bound.warning, null);
  },
});
