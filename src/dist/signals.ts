/**
 * Ending a rank when its launcher says so. When one rank of an MPI job dies, `mpirun` sends
 * SIGTERM to every other rank (then SIGKILL a second later): a rank then exits at once, quietly
 * (the launcher has already said which rank failed), unless it is inside a section that must
 * not be cut (writing a checkpoint), in which case it exits as soon as that section ends.
 *
 * @module
 */

let _held = 0;
let _pendingCode: number | null = null;

/**
 * Exits with `code` on SIGTERM, deferred while a {@link holdTermination} section runs.
 *
 * @returns a function that removes the listener
 * @example
 * ```ts
 * const remove = exitOnTerminate();
 * try {
 *   await new Promise((resolve) => setTimeout(resolve, 100)); // the work
 * } finally {
 *   remove();
 * }
 * ```
 */
export function exitOnTerminate(code = 143): () => void {
  const onTerm = () => {
    if (_held === 0) Deno.exit(code);
    _pendingCode = code;
  };
  try {
    Deno.addSignalListener("SIGTERM", onTerm);
  } catch {
    return () => {}; // no signals on this platform: the default action (exit) applies
  }
  return () => Deno.removeSignalListener("SIGTERM", onTerm);
}

/**
 * Marks a section a SIGTERM must not cut (see {@link exitOnTerminate}); disposing it ends the
 * section, and exits if a SIGTERM arrived meanwhile.
 *
 * @example
 * ```ts
 * {
 *   using _ = holdTermination();
 *   await Deno.writeTextFile("ckpt.json", "{}"); // a SIGTERM now waits for this write
 * }
 * ```
 */
export function holdTermination(): Disposable {
  _held++;
  let done = false;
  return {
    [Symbol.dispose]() {
      if (done) return;
      done = true;
      _held--;
      if (_held === 0 && _pendingCode !== null) Deno.exit(_pendingCode);
    },
  };
}
