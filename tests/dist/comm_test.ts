/**
 * The communicator: the single-process backend leaves data alone; launcher detection; and the
 * Open MPI backend under `mpirun -np 3` (an odd count, so the mean is not a power-of-two scale):
 * sums and means in f32 and f64 equal the closed-form values, a broadcast from the last rank
 * reaches every rank, and an error on one rank becomes the same error on every rank.
 */
import assert from "node:assert/strict";
import { SingleProcess } from "../../src/dist/comm.ts";
import { detectLauncher, openCommunicator } from "../../src/dist/open.ts";
import { mpiAvailable, runProcess } from "../helpers/mpi.ts";

Deno.test("SingleProcess collectives leave the data as it is", async () => {
  const comm = new SingleProcess();
  assert.equal(comm.rank, 0);
  assert.equal(comm.size, 1);
  const g = new Float32Array([1.5, -2]);
  await comm.allReduceSum(g);
  await comm.allReduceMean(g);
  await comm.broadcast(g);
  await comm.barrier();
  assert.deepEqual(Array.from(g), [1.5, -2]);
  await assert.rejects(comm.broadcast(g, 1), RangeError);
});

Deno.test("launchers are detected from mpirun's and PMIx's variables only", () => {
  const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
  assert.equal(detectLauncher(env({})), null);
  assert.equal(detectLauncher(env({ OMPI_COMM_WORLD_SIZE: "4" })), "OMPI_COMM_WORLD_SIZE=4");
  assert.equal(detectLauncher(env({ PMIX_RANK: "0" })), "PMIX_RANK=0");
  assert.equal(openCommunicator({ env: env({}) }).backend, "single");
});

Deno.test({
  name: "Open MPI under mpirun -np 3: sum, mean, broadcast, barrier and agreed errors",
  ignore: !mpiAvailable(),
  fn: async () => {
    const r = await runProcess("mpirun", [
      "--oversubscribe",
      "-np",
      "3",
      Deno.execPath(),
      "run",
      "-A",
      "tests/dist/comm_worker.ts",
    ], { timeoutS: 60 });
    assert.equal(r.code, 0, r.stderr);
    const ranks = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) =>
      a.rank - b.rank
    );
    assert.equal(ranks.length, 3);
    for (const [i, x] of ranks.entries()) {
      assert.equal(x.rank, i);
      assert.equal(x.size, 3);
      assert.equal(x.backend, "mpi");
      assert.deepEqual(x.f32, [1 + 2 + 3, (1 + 2 + 3) * 1000]);
      assert.deepEqual(x.f64, [(0.25 + 1.25 + 2.25) / 3, -1]);
      assert.deepEqual(x.bytes, [7, 6, 5, 4, 3]);
      assert.equal(x.agreed, "RangeError|1|Cannot frobnicate: rank 1 is odd (on rank 1)");
    }
  },
});
