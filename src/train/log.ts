/**
 * The training log: `out_dir/log.jsonl`, one JSON object per line, a `train` line per logged
 * step and an `eval` line per evaluation, and `out_dir/loss.svg`, a plot of the losses
 * (see {@link lossPlotSvg}) rewritten atomically after each evaluation and at most every few
 * seconds for train lines.
 *
 * ```
 * {"type":"train","iter":10,"loss":9.81,"lr":5e-6,"ms":812.4,"tokens_per_s":1260,"mfu":0.0042,"time":"2025-..."}
 * {"type":"eval","iter":2000,"train_loss":2.41,"val_loss":2.45,"lr":0.0005,"ms":30311,"time":"2025-..."}
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic.ts";
import { lossPlotSvg, type LossSeries } from "./plot.ts";

/** One logged optimizer step. */
export interface TrainRecord {
  /** Record kind. */
  type: "train";
  /** Optimizer step. */
  iter: number;
  /** Training loss of the step (mean over its micro-batches). */
  loss: number;
  /** Learning rate used in the step. */
  lr: number;
  /** Wall time of the step in milliseconds. */
  ms: number;
  /** Training tokens per second over the step. */
  tokens_per_s: number;
  /** Model FLOPs utilisation (a fraction; -1 until measured, as train.py's running_mfu). */
  mfu: number;
  /** ISO 8601 wall-clock time of the record. */
  time: string;
}

/** One evaluation. */
export interface EvalRecord {
  /** Record kind. */
  type: "eval";
  /** Optimizer step at which it was evaluated. */
  iter: number;
  /** Mean loss over eval_iters training batches. */
  train_loss: number;
  /** Mean loss over eval_iters validation batches. */
  val_loss: number;
  /** Learning rate at that step. */
  lr: number;
  /** Wall time of the evaluation in milliseconds (when measured). */
  ms?: number;
  /** ISO 8601 wall-clock time of the record. */
  time: string;
}

/** A line of log.jsonl. */
export type LogRecord = TrainRecord | EvalRecord;

/** How a {@link TrainLog} opens. */
export interface TrainLogOptions {
  /**
   * Resuming at this step: keep the existing records with `iter` below it (later ones belong
   * to the lost part of the run) and append after them. Absent: start a fresh log.
   */
  resumeIter?: number;
  /** Rewrite loss.svg after a train line at most this often (ms, default 5000). */
  plotIntervalMs?: number;
  /** Options passed to the plot (title, size). */
  plotTitle?: string;
}

/**
 * Parses log.jsonl text; a torn last line (a crash mid-append) is ignored, any other malformed
 * line is an error.
 *
 * @throws {SyntaxError} naming the line
 */
export function parseLog(text: string): LogRecord[] {
  const lines = text.split("\n");
  const out: LogRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      if (lines.slice(i + 1).every((l) => l.trim() === "")) break; // torn last line
      throw new SyntaxError(`Cannot parse training log: line ${i + 1} is not JSON`);
    }
    const rec = r as LogRecord;
    if (
      r === null || typeof r !== "object" || (rec.type !== "train" && rec.type !== "eval") ||
      typeof rec.iter !== "number"
    ) {
      throw new SyntaxError(`Cannot parse training log: line ${i + 1} is not a train/eval record`);
    }
    out.push(rec);
  }
  return out;
}

/**
 * The plot's curves from log records: train loss per train line, and the train and val losses
 * of each eval line (non-finite losses left out).
 */
export function lossSeries(records: readonly LogRecord[]): LossSeries {
  const out: LossSeries = { train: [], evalTrain: [], evalVal: [] };
  for (const r of records) {
    if (r.type === "train" && Number.isFinite(r.loss)) out.train.push([r.iter, r.loss]);
    if (r.type === "eval") {
      if (Number.isFinite(r.train_loss)) out.evalTrain.push([r.iter, r.train_loss]);
      if (Number.isFinite(r.val_loss)) out.evalVal.push([r.iter, r.val_loss]);
    }
  }
  return out;
}

/**
 * Appends train and eval records to `out_dir/log.jsonl` and keeps `out_dir/loss.svg` current.
 *
 * @example
 * ```ts
 * import { TrainLog } from "./log.ts";
 *
 * await using log = await TrainLog.open("out");
 * await log.train({ iter: 0, loss: 10.37, lr: 0, ms: 950, tokens_per_s: 1100, mfu: -1 });
 * await log.eval({ iter: 0, train_loss: 10.37, val_loss: 10.37, lr: 0 });
 * ```
 */
export class TrainLog implements AsyncDisposable {
  /** Path of log.jsonl. */
  readonly logPath: string;
  /** Path of loss.svg. */
  readonly plotPath: string;
  #records: LogRecord[];
  #lastPlot = 0;
  #dirty = false;
  #interval: number;
  #title?: string;

  private constructor(outDir: string, records: LogRecord[], opts: TrainLogOptions) {
    this.logPath = join(outDir, "log.jsonl");
    this.plotPath = join(outDir, "loss.svg");
    this.#records = records;
    this.#interval = opts.plotIntervalMs ?? 5000;
    this.#title = opts.plotTitle;
  }

  /**
   * Opens (creating `outDir` if needed) a fresh log, or, with `resumeIter`, the existing one cut
   * back to the records before that step. Writes the plot once.
   */
  static async open(outDir: string, opts: TrainLogOptions = {}): Promise<TrainLog> {
    await Deno.mkdir(outDir, { recursive: true });
    const path = join(outDir, "log.jsonl");
    let records: LogRecord[] = [];
    if (opts.resumeIter !== undefined) {
      try {
        records = parseLog(await Deno.readTextFile(path));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      records = records.filter((r) => r.iter < opts.resumeIter!);
    }
    const enc = new TextEncoder();
    await writeFileAtomic(path, enc.encode(records.map((r) => JSON.stringify(r) + "\n").join("")));
    const log = new TrainLog(outDir, records, opts);
    await log.writePlot();
    return log;
  }

  /** Every record so far (including those kept from a resumed run). */
  get records(): readonly LogRecord[] {
    return this.#records;
  }

  /** Appends a train line (time is filled in); rewrites the plot when it is due. */
  async train(r: Omit<TrainRecord, "type" | "time">): Promise<TrainRecord> {
    const rec: TrainRecord = { type: "train", ...r, time: new Date().toISOString() };
    await this.#append(rec);
    if (Date.now() - this.#lastPlot >= this.#interval) await this.writePlot();
    return rec;
  }

  /** Appends an eval line (time is filled in) and rewrites the plot. */
  async eval(r: Omit<EvalRecord, "type" | "time">): Promise<EvalRecord> {
    const rec: EvalRecord = { type: "eval", ...r, time: new Date().toISOString() };
    await this.#append(rec);
    await this.writePlot();
    return rec;
  }

  async #append(rec: LogRecord): Promise<void> {
    this.#records.push(rec);
    this.#dirty = true;
    await Deno.writeTextFile(this.logPath, JSON.stringify(rec) + "\n", { append: true });
  }

  /** Rewrites loss.svg now (atomically). */
  async writePlot(): Promise<void> {
    const svg = lossPlotSvg(lossSeries(this.#records), this.#title ? { title: this.#title } : {});
    await writeFileAtomic(this.plotPath, new TextEncoder().encode(svg));
    this.#lastPlot = Date.now();
    this.#dirty = false;
  }

  /** Writes the plot if records arrived since it was last written. */
  async close(): Promise<void> {
    if (this.#dirty) await this.writePlot();
  }

  /** Same as {@link TrainLog.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
