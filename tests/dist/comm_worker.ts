/**
 * Run under `mpirun -np N` by comm_test.ts: exercises every collective of the Open MPI
 * communicator and prints one JSON line of what this rank ended with.
 */
import { agreeOnError, CollectiveError } from "../../src/dist/comm.ts";
import { openCommunicator } from "../../src/dist/open.ts";

const comm = openCommunicator();
const r = comm.rank, n = comm.size;
// f32 sum: element i of rank r is (r + 1) * (i + 1); 1000 floats.
const f32 = Float32Array.from({ length: 1000 }, (_, i) => (r + 1) * (i + 1));
await comm.allReduceSum(f32);
// f64 mean of r + 0.25.
const f64 = new Float64Array([r + 0.25, -r]);
await comm.allReduceMean(f64);
// broadcast from the last rank.
const bytes = new Uint8Array(5);
if (r === n - 1) bytes.set([7, 6, 5, 4, 3]);
await comm.broadcast(bytes, n - 1);
await comm.barrier();
// an error on rank 1 only becomes the same error on every rank.
let agreed = "";
try {
  await agreeOnError(comm, r === 1 ? new RangeError("Cannot frobnicate: rank 1 is odd") : null);
} catch (e) {
  if (e instanceof CollectiveError) agreed = `${e.origin}|${e.rank}|${e.message}`;
}
await agreeOnError(comm, null); // and no error is no error
comm.finalize();
console.log(JSON.stringify({
  rank: r,
  size: n,
  backend: comm.backend,
  f32: [f32[0], f32[999]],
  f64: Array.from(f64),
  bytes: Array.from(bytes),
  agreed,
}));
