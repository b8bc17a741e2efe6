/**
 * Collective communication between the processes of a data-parallel job, behind one small
 * interface ({@link Communicator}: rank, size, all-reduce, broadcast, barrier, abort, finalize)
 * so that the training loop does not know which engine moves the bytes. Two backends:
 * {@link SingleProcess} (a world of one: every collective is a no-op) and Open MPI
 * (`src/dist/mpi.ts`, through Deno FFI), chosen by `openCommunicator` (`src/dist/open.ts`).
 *
 * Collectives are asynchronous: the MPI backend runs them on a worker thread so that the event
 * loop (signal listeners, GPU callbacks) keeps running while a rank waits for its peers.
 *
 * @module
 */
/** Typed arrays a collective can carry in place. */
export type CollectiveBuffer = Float32Array | Float64Array;

/**
 * A group of processes (ranks 0..size-1) that run the same program on different data.
 *
 * Every collective must be called by every rank, in the same order, with buffers of the same
 * length; it resolves when this rank's part is done.
 */
export interface Communicator {
  /** Backend name: `single` or `mpi`. */
  readonly backend: "single" | "mpi";
  /** This process's index in [0, size). */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** Sums `buf` element-wise across all ranks, in place: every rank gets the sum. */
  allReduceSum(buf: CollectiveBuffer): Promise<void>;
  /** Averages `buf` element-wise across all ranks, in place (the sum times 1 / size). */
  allReduceMean(buf: CollectiveBuffer): Promise<void>;
  /** Copies rank `root`'s bytes of `buf` into every other rank's `buf` (same length). */
  broadcast(buf: ArrayBufferView, root?: number): Promise<void>;
  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;
  /** Ends every rank of the job now with exit code `code` (MPI_Abort); never returns. */
  abort(code: number): never;
  /** Leaves the group (MPI_Finalize); no collective may follow. Idempotent. */
  finalize(): void;
}

/**
 * An error every rank raised at the same point with the same message (a settings mismatch
 * found collectively, say), so that one rank (rank 0) reports it and the others end quietly.
 */
export class CollectiveError extends Error {
  /** The `name` of the original error (e.g. `UsageError`), so the exit code can follow it. */
  readonly origin: string;
  /** The rank whose error this is. */
  readonly rank: number;

  /**
   * Creates the error.
   *
   * @param message one line, `Cannot <action>: <what is wrong>`
   * @param origin the original error's `name`
   * @param rank the rank that raised it
   */
  constructor(message: string, origin = "Error", rank = 0) {
    super(message);
    this.name = "CollectiveError";
    this.origin = origin;
    this.rank = rank;
  }
}

/**
 * Makes a per-rank failure collective: every rank passes its own error (or null); if any rank
 * failed, every rank throws the same {@link CollectiveError}, carrying the lowest failing rank's
 * message (with `(on rank R)` appended when R is not 0). Costs two small collectives when all
 * is well.
 *
 * @throws {CollectiveError} on every rank when any rank passed an error
 * @example
 * ```ts
 * const comm: Communicator = new SingleProcess(); // or openCommunicator() (open.ts)
 * let err: Error | null = null;
 * try {
 *   Deno.readTextFileSync("settings.json"); // present on some nodes only, say
 * } catch (e) {
 *   err = e as Error;
 * }
 * await agreeOnError(comm, err); // throws on every rank, or on none
 * ```
 */
export async function agreeOnError(comm: Communicator, error: unknown): Promise<void> {
  const failed = new Float64Array(comm.size);
  if (error !== null && error !== undefined) failed[comm.rank] = 1;
  await comm.allReduceSum(failed);
  const first = failed.findIndex((f) => f > 0);
  if (first < 0) return;
  const e = error instanceof Error ? error : new Error(String(error));
  const text = await broadcastString(
    comm,
    comm.rank === first ? JSON.stringify({ name: e.name, message: e.message.split("\n")[0] }) : "",
    first,
  );
  const { name, message } = JSON.parse(text) as { name: string; message: string };
  throw new CollectiveError(first === 0 ? message : `${message} (on rank ${first})`, name, first);
}

/**
 * Broadcasts a string from `root` (its length first, then its UTF-8 bytes).
 *
 * @param text the string on `root` (ignored elsewhere)
 * @returns root's string, on every rank
 */
export async function broadcastString(
  comm: Communicator,
  text: string,
  root = 0,
): Promise<string> {
  const mine = new TextEncoder().encode(comm.rank === root ? text : "");
  const len = new Float64Array([mine.length]);
  await comm.broadcast(len, root);
  const bytes = comm.rank === root ? mine : new Uint8Array(len[0]);
  await comm.broadcast(bytes, root);
  return new TextDecoder().decode(bytes);
}

/**
 * A world of one process: every collective leaves the data as it is.
 *
 * @example
 * ```ts
 * const comm = new SingleProcess();
 * const g = new Float32Array([1, 2]);
 * await comm.allReduceMean(g); // g is unchanged
 * ```
 */
export class SingleProcess implements Communicator {
  /** Always `single`. */
  readonly backend = "single" as const;
  /** Always 0. */
  readonly rank = 0;
  /** Always 1. */
  readonly size = 1;
  /** No-op. */
  allReduceSum(_buf: CollectiveBuffer): Promise<void> {
    return Promise.resolve();
  }
  /** No-op. */
  allReduceMean(_buf: CollectiveBuffer): Promise<void> {
    return Promise.resolve();
  }
  /** No-op (root must be 0). */
  broadcast(_buf: ArrayBufferView, root = 0): Promise<void> {
    if (root !== 0) {
      return Promise.reject(new RangeError(`Cannot broadcast from rank ${root}: size is 1`));
    }
    return Promise.resolve();
  }
  /** No-op. */
  barrier(): Promise<void> {
    return Promise.resolve();
  }
  /** Exits the process with `code`. */
  abort(code: number): never {
    Deno.exit(code);
  }
  /** No-op. */
  finalize(): void {}
}
