/**
 * Times the gradient all-reduce alone: an in-place MPI_Allreduce (sum) of N float32 through
 * babyllama's Open MPI communicator, as the data-parallel trainer runs it once per optimizer
 * step. Prints one JSON line (rank 0): median and best ms over the repetitions, the algorithm
 * bandwidth (bytes / time) and the bus bandwidth (2 (p - 1) / p x bytes / time, the traffic a
 * ring all-reduce moves per rank, comparable to a link's speed).
 *
 * usage: mpirun -np 2 deno run -A tools/bench_allreduce.ts [--floats 15000000] [--reps 10]
 *
 * The default N is near the 15M model's gradient (tensor table size 15,192,384 floats = 61 MB).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { openCommunicator } from "../src/dist/open.ts";

const { values } = parseArgs({
  options: {
    floats: { type: "string", default: "15000000" },
    reps: { type: "string", default: "10" },
  },
});
const n = Number(values.floats), reps = Number(values.reps);
const comm = openCommunicator({ force: true });
const buf = new Float32Array(n).fill(1);
await comm.allReduceSum(buf); // warm-up: connection setup, shared-memory registration
const ms: number[] = [];
for (let i = 0; i < reps; i++) {
  await comm.barrier();
  const t0 = performance.now();
  await comm.allReduceSum(buf);
  ms.push(performance.now() - t0);
}
comm.finalize();
if (comm.rank === 0) {
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)], bytes = 4 * n, p = comm.size;
  console.log(JSON.stringify({
    ranks: p,
    floats: n,
    mb: +(bytes / 1e6).toFixed(1),
    median_ms: +median.toFixed(1),
    best_ms: +ms[0].toFixed(1),
    algbw_gbps: +((bytes * 8) / (median / 1000) / 1e9).toFixed(2),
    busbw_gbps: +((2 * (p - 1) / p) * (bytes * 8) / (median / 1000) / 1e9).toFixed(2),
  }));
}
