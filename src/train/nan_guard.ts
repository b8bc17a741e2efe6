/**
 * What the trainer does about a step with a NaN or infinite loss or gradient norm
 * (`--on-nan stop|skip`). The GPU already refused to apply such a step (the step guard in
 * {@link AdamW}, no readback needed), so the weights stay finite either way; this decides, from
 * the guard's counters read at log steps, evals and saves, whether the run stops (`stop`, the
 * default: exit 1 with one line naming the iteration, nothing saved after it) or goes on with a
 * warning (`skip`, until {@link MAX_NAN_SKIPS} steps in a row were skipped).
 *
 * @module
 */
import type { StepStatus } from "../ops/adamw.ts";
import { MAX_NAN_SKIPS, type TrainConfig } from "./config.ts";
import type { AdamW } from "./optimizer.ts";

function _num(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(5) : String(x);
}

/**
 * Applies `--on-nan` to the step guard's counters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NanGuard } from "./nan_guard.ts";
 *
 * const lines: string[] = [];
 * const guard = new NanGuard("skip", 100, (s) => lines.push(s)); // training resumed at iter 100
 * const st = { steps: 3, bad: 1, run: 1, first: 3, last: 3, loss: NaN, norm: NaN, firstLoss: NaN, firstNorm: NaN };
 * guard.check(st, "out keeps the checkpoint of iter 100");
 * assert.match(lines[0], /^warning: skipped the update of iter 102 /);
 * ```
 */
export class NanGuard {
  #seen = 0;

  /**
   * @param mode `stop` or `skip`
   * @param firstIter the iteration of the guard's step 1 (where this process started training)
   * @param print where warnings go
   */
  constructor(
    readonly mode: TrainConfig["on_nan"],
    readonly firstIter: number,
    readonly print: (line: string) => void,
  ) {}

  /**
   * Checks the counters read from the GPU; warns about steps skipped since the last check.
   *
   * @param st the step guard's status
   * @param kept what the out dir still holds, for the message (`out holds the checkpoint of ...`)
   * @throws {Error} (one line) with `stop` after any skipped step, or with `skip` after
   *   {@link MAX_NAN_SKIPS} skipped steps in a row
   */
  check(st: StepStatus, kept: string): void {
    if (st.bad === this.#seen) return;
    const iterOf = (n: number) => this.firstIter + n - 1;
    if (this.mode === "stop") {
      throw new Error(
        `Cannot train: iter ${iterOf(st.first)} has loss ${_num(st.firstLoss)} and gradient ` +
          `norm ${_num(st.firstNorm)}; its update was not applied and the run stops (${kept}; ` +
          "a lower --learning-rate may help, or --on-nan skip to skip such steps)",
      );
    }
    const fresh = st.bad - this.#seen;
    this.#seen = st.bad;
    if (st.run >= MAX_NAN_SKIPS) {
      throw new Error(
        `Cannot train: ${st.run} steps in a row (iters ${iterOf(st.last - st.run + 1)}..` +
          `${iterOf(st.last)}) had a non-finite loss or gradient norm; --on-nan skip gives up ` +
          `after ${MAX_NAN_SKIPS} (${kept})`,
      );
    }
    const values = st.run > 0 ? ` (loss ${_num(st.loss)}, gradient norm ${_num(st.norm)})` : "";
    const more = fresh > 1 ? ` and ${fresh - 1} more since the last log` : "";
    this.print(
      `warning: skipped the update of iter ${iterOf(st.last)}${values}${more}: not finite; ` +
        `${st.run} in a row (--on-nan skip gives up after ${MAX_NAN_SKIPS})`,
    );
  }

  /**
   * Checks an eval's losses.
   *
   * @returns true when both are finite; false (after a warning) with `skip`
   * @throws {Error} (one line) with `stop` when one is not finite
   */
  checkEval(iter: number, train: number, val: number, kept: string): boolean {
    if (Number.isFinite(train) && Number.isFinite(val)) return true;
    const what = `the eval at iter ${iter} gives train loss ${_num(train)}, val loss ${_num(val)}`;
    if (this.mode === "stop") {
      throw new Error(`Cannot train: ${what}; the run stops without saving (${kept})`);
    }
    this.print(`warning: ${what}: no checkpoint saved`);
    return false;
  }

  /** Reads the optimizer's status and checks it (one synchronisation). */
  async checkNow(opt: AdamW, kept: string): Promise<StepStatus> {
    const st = await opt.readStatus();
    this.check(st, kept);
    return st;
  }
}
