/**
 * The Open MPI backend of {@link Communicator}, through Deno FFI: `libmpi.so.40` (Open MPI 4
 * and 5; `BABYLLAMA_MPI_LIB` names another path) is opened with `Deno.dlopen`, and MPI's
 * predefined handles are read as FFI statics. In Open MPI, `MPI_COMM_WORLD`, `MPI_FLOAT`,
 * `MPI_SUM` and the rest are the addresses of global objects (`&ompi_mpi_comm_world`, ...), and
 * a Deno static of type `pointer` evaluates to the symbol's address, which is that handle.
 * (MPICH's handles are integers with another ABI: it is refused by name.)
 *
 * MPI is initialised with `MPI_THREAD_SERIALIZED`, and collectives are `nonblocking` FFI calls:
 * they run one at a time on a worker thread while the JavaScript event loop stays free (so a
 * rank waiting for a slower peer still answers signals). If the library offers less thread
 * support, the same calls run synchronously on the main thread. `OMPI_MCA_mpi_yield_when_idle`
 * is set to 1 unless the environment sets it: a rank that waits for a peer then yields the CPU
 * instead of spinning on it.
 *
 * @module
 */
import type { CollectiveBuffer, Communicator } from "./comm.ts";

const _COLLECTIVES = {
  MPI_Allreduce: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  MPI_Bcast: { parameters: ["buffer", "i32", "pointer", "i32", "pointer"], result: "i32" },
  MPI_Barrier: { parameters: ["pointer"], result: "i32" },
} as const;

const _SYMBOLS = {
  MPI_Initialized: { parameters: ["buffer"], result: "i32" },
  MPI_Finalized: { parameters: ["buffer"], result: "i32" },
  MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  MPI_Comm_rank: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Comm_size: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Get_library_version: { parameters: ["buffer", "buffer"], result: "i32" },
  MPI_Abort: { parameters: ["pointer", "i32"], result: "i32" },
  MPI_Finalize: { parameters: [], result: "i32" },
  ..._COLLECTIVES,
  MPI_Allreduce_async: { name: "MPI_Allreduce", ..._COLLECTIVES.MPI_Allreduce, nonblocking: true },
  MPI_Bcast_async: { name: "MPI_Bcast", ..._COLLECTIVES.MPI_Bcast, nonblocking: true },
  MPI_Barrier_async: { name: "MPI_Barrier", ..._COLLECTIVES.MPI_Barrier, nonblocking: true },
  ompi_mpi_comm_world: { type: "pointer" },
  ompi_mpi_float: { type: "pointer" },
  ompi_mpi_double: { type: "pointer" },
  ompi_mpi_byte: { type: "pointer" },
  ompi_mpi_op_sum: { type: "pointer" },
} as const;

type _Lib = Deno.DynamicLibrary<typeof _SYMBOLS>;

/** MPI_THREAD_SERIALIZED in Open MPI's mpi.h. */
const _THREAD_SERIALIZED = 2;
/** Open MPI's setting: yield the CPU while polling for messages. */
const _YIELD = "OMPI_MCA_mpi_yield_when_idle";
/** Elements per MPI call: counts are C ints. */
const _CHUNK = 1 << 30;

/** The default library names to try, for this OS. */
function _libraryNames(): string[] {
  const env = Deno.env.get("BABYLLAMA_MPI_LIB");
  if (env) return [env];
  return Deno.build.os === "darwin" ? ["libmpi.40.dylib"] : ["libmpi.so.40"];
}

function _cstring(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
}

function _u8(buf: ArrayBufferView): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
}

let _instance: OpenMpi | null = null;

/** Options of {@link OpenMpi.init}. */
export interface OpenMpiOptions {
  /** Why MPI is being started (e.g. `OMPI_COMM_WORLD_SIZE=2` or `--ddp`), for error messages. */
  reason: string;
}

/**
 * `MPI_COMM_WORLD` of Open MPI, loaded through FFI.
 *
 * @example
 * ```ts
 * const comm = OpenMpi.init({ reason: "--ddp" }); // under mpirun -np 2
 * const g = new Float32Array(1024).fill(comm.rank);
 * await comm.allReduceSum(g); // every element is 0 + 1 on both ranks
 * comm.finalize();
 * ```
 */
export class OpenMpi implements Communicator {
  /** Always `mpi`. */
  readonly backend = "mpi" as const;
  /** This process's rank in MPI_COMM_WORLD. */
  readonly rank: number;
  /** MPI_COMM_WORLD's size. */
  readonly size: number;
  /** `MPI_Get_library_version`'s first line. */
  readonly version: string;
  /** Whether collectives run on a worker thread (MPI_THREAD_SERIALIZED granted). */
  readonly threaded: boolean;
  #lib: _Lib;
  #world: Deno.PointerValue;
  #chain: Promise<unknown> = Promise.resolve();
  #finalized = false;

  private constructor(lib: _Lib, threaded: boolean, version: string) {
    this.#lib = lib;
    this.threaded = threaded;
    this.version = version;
    this.#world = lib.symbols.ompi_mpi_comm_world;
    const out = new Int32Array(1);
    this.#check("MPI_Comm_rank", lib.symbols.MPI_Comm_rank(this.#world, _u8(out)));
    this.rank = out[0];
    this.#check("MPI_Comm_size", lib.symbols.MPI_Comm_size(this.#world, _u8(out)));
    this.size = out[0];
  }

  /**
   * Loads libmpi and initialises MPI (once per process; later calls return the same object).
   *
   * @throws {Error} when the library cannot be loaded (saying how to install Open MPI), FFI is
   *   not permitted, the library is not Open MPI, or MPI_Init fails
   */
  static init(opts: OpenMpiOptions): OpenMpi {
    if (_instance) {
      if (_instance.#finalized) throw new Error("Cannot start MPI: it was already finalized");
      return _instance;
    }
    const what = `Cannot start data-parallel training (${opts.reason})`;
    let lib: _Lib | null = null;
    let why = "";
    for (const name of _libraryNames()) {
      try {
        lib = Deno.dlopen(name, _SYMBOLS);
        break;
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable || (e as Error).name === "PermissionDenied") {
          throw new Error(`${what}: FFI is not permitted (run deno with --allow-ffi, or -A)`);
        }
        why = (e as Error).message.split("\n")[0].replace(/^(Could not open library: )+/, "");
      }
    }
    if (!lib) {
      throw new Error(
        `${what}: cannot load Open MPI's library (${why}); install it ` +
          "(apt-get install openmpi-bin) or set BABYLLAMA_MPI_LIB to its libmpi.so",
      );
    }
    const ver = new Uint8Array(8192), len = new Int32Array(1);
    lib.symbols.MPI_Get_library_version(ver, _u8(len));
    const version = _cstring(ver).split("\n")[0].trim();
    if (!version.startsWith("Open MPI")) {
      lib.close();
      throw new Error(
        `${what}: ${version || "the MPI library"} is not Open MPI (only its ABI is supported)`,
      );
    }
    const flag = new Int32Array(1);
    lib.symbols.MPI_Initialized(_u8(flag));
    let threaded = true;
    if (!flag[0]) {
      // A waiting rank polls; without yielding it starves the GPU driver's threads when ranks
      // share cores (the CPU adapter here: 80 s instead of 0.05 s for a tiny step).
      try {
        if (Deno.env.get(_YIELD) === undefined) Deno.env.set(_YIELD, "1");
      } catch {
        // no env permission: Open MPI's default
      }
      const provided = new Int32Array(1);
      const rc = lib.symbols.MPI_Init_thread(null, null, _THREAD_SERIALIZED, _u8(provided));
      if (rc !== 0) throw new Error(`${what}: MPI_Init_thread failed (error ${rc})`);
      threaded = provided[0] >= _THREAD_SERIALIZED;
    }
    _instance = new OpenMpi(lib, threaded, version);
    return _instance;
  }

  #check(call: string, rc: number): void {
    if (rc !== 0) throw new Error(`Cannot communicate between ranks: ${call} failed (error ${rc})`);
  }

  /** Runs collectives one at a time, in call order. */
  #serial(call: string, op: () => Promise<number> | number): Promise<void> {
    if (this.#finalized) {
      return Promise.reject(new Error(`Cannot call ${call}: MPI was finalized`));
    }
    const p = this.#chain.then(async () => this.#check(call, await op()));
    this.#chain = p.catch(() => {});
    return p;
  }

  #allReduce(buf: CollectiveBuffer): Promise<void> {
    const s = this.#lib.symbols;
    const type = buf instanceof Float64Array ? s.ompi_mpi_double : s.ompi_mpi_float;
    const inPlace = Deno.UnsafePointer.create(1n); // MPI_IN_PLACE is (void *) 1
    return this.#serial("MPI_Allreduce", async () => {
      for (let at = 0; at < buf.length; at += _CHUNK) {
        const part = _u8(buf.subarray(at, Math.min(buf.length, at + _CHUNK)));
        const n = part.byteLength / buf.BYTES_PER_ELEMENT;
        const rc = this.threaded
          ? await s.MPI_Allreduce_async(inPlace, part, n, type, s.ompi_mpi_op_sum, this.#world)
          : s.MPI_Allreduce(inPlace, part, n, type, s.ompi_mpi_op_sum, this.#world);
        if (rc !== 0) return rc;
      }
      return 0;
    });
  }

  /** MPI_Allreduce(MPI_IN_PLACE, ..., MPI_SUM, MPI_COMM_WORLD). */
  allReduceSum(buf: CollectiveBuffer): Promise<void> {
    return this.#allReduce(buf);
  }

  /** MPI_Allreduce with MPI_SUM, then a scale by 1 / size on this rank. */
  async allReduceMean(buf: CollectiveBuffer): Promise<void> {
    await this.#allReduce(buf);
    if (this.size === 1) return;
    const inv = 1 / this.size;
    for (let i = 0; i < buf.length; i++) buf[i] *= inv;
  }

  /** MPI_Bcast of the view's bytes from `root`. */
  broadcast(buf: ArrayBufferView, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      return Promise.reject(
        new RangeError(`Cannot broadcast from rank ${root}: ranks are 0..${this.size - 1}`),
      );
    }
    const s = this.#lib.symbols;
    const bytes = _u8(buf);
    return this.#serial("MPI_Bcast", async () => {
      for (let at = 0; at < bytes.length; at += _CHUNK) {
        const part = bytes.subarray(at, Math.min(bytes.length, at + _CHUNK));
        const rc = this.threaded
          ? await s.MPI_Bcast_async(part, part.length, s.ompi_mpi_byte, root, this.#world)
          : s.MPI_Bcast(part, part.length, s.ompi_mpi_byte, root, this.#world);
        if (rc !== 0) return rc;
      }
      return 0;
    });
  }

  /** MPI_Barrier(MPI_COMM_WORLD). */
  barrier(): Promise<void> {
    const s = this.#lib.symbols;
    return this.#serial(
      "MPI_Barrier",
      () => this.threaded ? s.MPI_Barrier_async(this.#world) : s.MPI_Barrier(this.#world),
    );
  }

  /** MPI_Abort(MPI_COMM_WORLD, code): the launcher ends every rank. */
  abort(code: number): never {
    if (!this.#finalized) this.#lib.symbols.MPI_Abort(this.#world, code);
    Deno.exit(code);
  }

  /** MPI_Finalize (once). Call it when no collective is pending. */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#lib.symbols.MPI_Finalize();
  }
}
