/**
 * Crash helper for tests/io/checkpoint_test.ts: `deno run -A ckpt_crash.ts DIR K [tiny]` saves
 * checkpointState(2, 2000) into DIR and kills itself with SIGKILL right after the K-th file
 * operation (rename, remove or fsync; 0-based) of the save, as a power cut or `kill -9` would.
 * Prints `save completed` when the save has fewer operations than K + 1.
 */
import { saveCheckpoint } from "../../src/io/checkpoint.ts";
import { checkpointState } from "./ckpt_state.ts";
import { afterFileOps } from "./crash_ops.ts";

const [dir, k, tiny] = Deno.args;
let i = 0;
const restore = afterFileOps(() => {
  if (i++ === Number(k)) Deno.kill(Deno.pid, "SIGKILL");
});
await saveCheckpoint(dir, checkpointState(2, 2000, { tiny: tiny === "tiny" }));
restore();
console.log("save completed");
