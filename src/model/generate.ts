/**
 * Text generation on the GPU with a KV cache, many decode steps per submit (llama2.c run.c's
 * `generate`, without a CPU round trip per token).
 *
 * One decode step is recorded once as a {@link Plan}: embedding of `state.token` -> per layer
 * (rmsnorm, q/k/v matmuls with N = 1, RoPE at `state.pos` with the k/v cache write, attention
 * over cache rows 0..pos with grouped KV heads, x += att·woᵀ, rmsnorm, w1/w3, SwiGLU,
 * x += hg·w2ᵀ) -> final rmsnorm -> classifier (tok_embeddings when tied, else wcls) -> `sample`,
 * which writes the next token into `tokens[pos + 1]` and into the state and advances `pos`.
 * Because position and token live in a GPU storage buffer, the same recorded step is replayed K
 * times into one command encoder; the CPU reads the token array once per K tokens.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type BufferBinding, BufferPool, writeBuffer } from "../gpu/buffers.ts";
import { type DispatchHandle, Plan } from "../gpu/plan.ts";
import { headSize, kvDim, type ModelConfig, validateConfig } from "./config.ts";
import { type TensorName, tensorRange, type TensorTable, tensorTable } from "./tensors.ts";
import {
  attentionDecode,
  checkSampleParams,
  DECODE_STATE_WORDS,
  embeddingDecode,
  matvecDecode,
  rmsnormDecode,
  ropeDecode,
  sample,
} from "../ops/decode.ts";
import { ropeFreqs } from "./rope_freqs.ts";
import { swigluForward } from "../ops/swiglu.ts";

/** BOS token id (llama2.c): generation stops when the model produces it. */
export const BOS = 1;

/** Options of {@link Generator}. */
export interface GeneratorOptions {
  /** Decode steps recorded into one command encoder per submit (default 16). */
  stepsPerSubmit?: number;
  /** Submit the next batch of steps before reading the previous one (default true). */
  pipelined?: boolean;
}

/** What to generate. */
export interface GenerateRequest {
  /** Prompt token ids, starting with BOS as run.c's encode gives (at least one token). */
  prompt: ArrayLike<number>;
  /** Positions to run (run.c's steps): 0 or more than max_seq_len means max_seq_len. */
  steps?: number;
  /** 0 = greedy (argmax); default 1. */
  temperature?: number;
  /** Nucleus mass; <= 0 or >= 1 = plain multinomial (default 0.9). */
  topP?: number;
  /** u32 seed of the sampler's coins (default 0). */
  seed?: number;
  /** Stop when the model produces BOS (default true, as run.c). */
  stopAtBos?: boolean;
}

/**
 * A model on the GPU ready to generate: parameters, KV cache, the recorded decode step.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "../gpu/device.ts";
 * import { readLlama2cFile } from "../io/llama2c.ts";
 * import { Generator } from "./generate.ts";
 *
 * using gpu = await acquireGpu();
 * const { config, params } = await readLlama2cFile("stories260K.bin");
 * using gen = new Generator(gpu, config, params);
 * for await (const id of gen.generate({ prompt: [1], temperature: 0, steps: 64 })) console.log(id);
 * ```
 */
export class Generator implements Disposable {
  /** The tensor table of the parameters. */
  readonly table: TensorTable;
  /** Decode steps per submit. */
  readonly stepsPerSubmit: number;
  /** Logits [V] of the last step run (for tests). */
  readonly logits: GPUBuffer;
  /** Number of submits of the last {@link generate} call. */
  submits = 0;

  #pool: BufferPool;
  #plan: Plan;
  #sampleHandle: DispatchHandle;
  #state: GPUBuffer;
  #tokens: GPUBuffer;
  #prompt: GPUBuffer;
  #staging: GPUBuffer[];
  #pipelined: boolean;
  #busy = false;

  /**
   * Uploads the parameters, allocates the KV cache and records one decode step.
   *
   * @param gpu the device owner
   * @param config the model's shape
   * @param params flat parameters in the {@link tensorTable} layout
   * @param options steps per submit
   * @throws {TypeError} when `params` does not have the table's size
   * @throws {RangeError} for a bad stepsPerSubmit
   */
  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    params: Float32Array,
    options: GeneratorOptions = {},
  ) {
    validateConfig(config);
    this.table = tensorTable(config);
    if (!(params instanceof Float32Array) || params.length !== this.table.size) {
      throw new TypeError(
        `Cannot build generator: params must be a Float32Array of ${this.table.size} floats`,
      );
    }
    const K = options.stepsPerSubmit ?? 16;
    if (!(Number.isInteger(K) && K >= 1 && K <= 4096)) {
      throw new RangeError(`Cannot build generator: stepsPerSubmit ${K} must be in 1..4096`);
    }
    this.stepsPerSubmit = K;
    this.#pipelined = options.pipelined ?? true;
    const C = config.dim, H = config.hidden_dim, V = config.vocab_size, L = config.n_layers;
    const S = config.max_seq_len, KV = kvDim(config), NH = config.n_heads;
    const NKV = config.n_kv_heads, HS = headSize(config);
    const pool = (this.#pool = new BufferPool(gpu));
    const f = (label: string, n: number) => pool.create(label, n * 4);

    const paramsBuf = pool.upload("params", params as Float32Array<ArrayBuffer>);
    const rope = ropeFreqs(HS, S);
    const freqsCos = pool.upload("freqs_cos", rope.cos);
    const freqsSin = pool.upload("freqs_sin", rope.sin);
    const x = f("x", C), xn = f("xn", C), q = f("q", C), k = f("k", KV), v = f("v", KV);
    const att = f("att", C), scores = f("att_scores", NH * S);
    const h1 = f("h1", H), h3 = f("h3", H), hg = f("hg", H);
    const keyCache = f("key_cache", L * S * KV), valueCache = f("value_cache", L * S * KV);
    this.logits = f("logits", V);
    const probs = f("probs", V);
    this.#state = f("decode_state", DECODE_STATE_WORDS);
    this.#tokens = f("tokens", S + 1);
    this.#prompt = f("prompt", S);
    const readBytes = (S + 1 + DECODE_STATE_WORDS) * 4;
    this.#staging = [0, 1].map((i) =>
      pool.create(
        `tokens:readback${i}`,
        readBytes,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      )
    );

    const P = (name: TensorName, layer = 0): BufferBinding => ({
      buffer: paramsBuf,
      ...tensorRange(this.table, name, layer),
    });
    const mm = (
      out: GPUBuffer,
      inp: GPUBuffer,
      w: BufferBinding,
      Cin: number,
      OC: number,
      acc = false,
    ) => matvecDecode(plan, { out, inp, weight: w }, { C: Cin, OC, accumulate: acc });
    const state = this.#state;

    const plan = (this.#plan = new Plan(gpu, "decode_step"));
    embeddingDecode(plan, { out: x, state, weight: P("tok_embeddings") }, { C });
    for (let l = 0; l < L; l++) {
      const sizes = { NH, NKV, HS, S, layer: l };
      rmsnormDecode(plan, { out: xn, inp: x, weight: P("rms_att", l) }, {
        C,
        eps: config.norm_eps,
      });
      mm(q, xn, P("wq", l), C, C);
      mm(k, xn, P("wk", l), C, KV);
      mm(v, xn, P("wv", l), C, KV);
      ropeDecode(plan, {
        q,
        k,
        v,
        key_cache: keyCache,
        value_cache: valueCache,
        state,
        freqs_cos: freqsCos,
        freqs_sin: freqsSin,
      }, sizes);
      attentionDecode(plan, {
        out: att,
        q,
        key_cache: keyCache,
        value_cache: valueCache,
        att: scores,
        state,
      }, sizes);
      mm(x, att, P("wo", l), C, C, true);
      rmsnormDecode(plan, { out: xn, inp: x, weight: P("rms_ffn", l) }, {
        C,
        eps: config.norm_eps,
      });
      mm(h1, xn, P("w1", l), C, H);
      mm(h3, xn, P("w3", l), C, H);
      swigluForward(plan, { out: hg, h1, h3 }, { N: H });
      mm(x, hg, P("w2", l), H, C, true);
    }
    rmsnormDecode(plan, { out: xn, inp: x, weight: P("rms_final") }, { C, eps: config.norm_eps });
    mm(this.logits, xn, P(config.shared_classifier ? "tok_embeddings" : "wcls"), C, V);
    this.#sampleHandle = sample(plan, {
      state,
      tokens: this.#tokens,
      logits: this.logits,
      prompt: this.#prompt,
      probs,
    }, { V, temperature: 0, top_p: 0, seed: 0, prompt_len: 1, steps: S, stop_at_bos: 1 });
  }

  /**
   * Runs one decode step dispatch by dispatch (slow), for finding a failing kernel; the state
   * must have been set by {@link generate} before.
   */
  debugStep(): Promise<void> {
    return this.#plan.debugRun();
  }

  /** Resolves when every recorded bind group validated. */
  check(): Promise<void> {
    return this.#plan.check();
  }

  /**
   * Generates tokens: yields the token of each position after the first (prompt tokens too,
   * as run.c prints them), one batch per submit, until `steps` positions have run, the cache is
   * full, or the model produces BOS (not yielded). Only one generation runs at a time.
   *
   * @param req prompt and sampler settings
   * @throws {RangeError} for an empty prompt, a token id >= vocab_size, or bad settings
   * @example
   * ```ts
   * import { acquireGpu } from "../gpu/device.ts";
   * import { readLlama2cFile } from "../io/llama2c.ts";
   * import { Generator } from "./generate.ts";
   *
   * using gpu = await acquireGpu();
   * const { config, params } = await readLlama2cFile("stories260K.bin");
   * using gen = new Generator(gpu, config, params);
   * const ids: number[] = [];
   * for await (const id of gen.generate({ prompt: [1], temperature: 0 })) ids.push(id);
   * ```
   */
  async *generate(req: GenerateRequest): AsyncGenerator<number, void, undefined> {
    const c = this.config, S = c.max_seq_len;
    const prompt = Array.from(req.prompt);
    if (prompt.length === 0) throw new RangeError("Cannot generate: the prompt has no tokens");
    for (const [i, t] of prompt.entries()) {
      if (!(Number.isInteger(t) && t >= 0 && t < c.vocab_size)) {
        throw new RangeError(
          `Cannot generate: prompt token ${t} at index ${i} is not in 0..${c.vocab_size - 1}`,
        );
      }
    }
    let steps = req.steps ?? 0;
    if (!(Number.isInteger(steps) && steps >= 0)) {
      throw new RangeError(`Cannot generate: steps must be a non-negative integer, got ${steps}`);
    }
    if (steps === 0 || steps > S) steps = S;
    const temperature = req.temperature ?? 1, topP = req.topP ?? 0.9, seed = req.seed ?? 0;
    const params = {
      V: c.vocab_size,
      temperature,
      top_p: topP,
      seed,
      prompt_len: Math.min(prompt.length, S),
      steps,
      stop_at_bos: req.stopAtBos === false ? 0 : 1,
    };
    checkSampleParams(params);
    if (this.#busy) throw new Error("Cannot generate: this generator is already generating");
    this.#busy = true;
    try {
      this.#plan.setParams(this.#sampleHandle, params);
      writeBuffer(this.gpu, this.#prompt, Uint32Array.from(prompt.slice(0, S)));
      writeBuffer(this.gpu, this.#state, Uint32Array.from([0, prompt[0], 0, 0]));
      this.submits = 0;
      yield* this.#run(steps, params.stop_at_bos === 1);
    } finally {
      this.#busy = false;
    }
  }

  // Submits up to K steps at a time, never more than the `steps` positions left (only a BOS
  // stop wastes work); with pipelining the next batch is queued while the previous one is read.
  async *#run(steps: number, stopAtBos: boolean): AsyncGenerator<number, void, undefined> {
    const S = this.config.max_seq_len;
    const queued: number[] = [];
    let slot = 0, predicted = 0;
    const submit = () => {
      const n = Math.min(this.stepsPerSubmit, steps - predicted);
      predicted += n;
      const enc = this.gpu.device.createCommandEncoder({ label: "decode" });
      for (let i = 0; i < n; i++) this.#plan.encode(enc);
      const s = this.#staging[slot];
      enc.copyBufferToBuffer(this.#tokens, 0, s, 0, (S + 1) * 4);
      enc.copyBufferToBuffer(this.#state, 0, s, (S + 1) * 4, DECODE_STATE_WORDS * 4);
      this.gpu.device.queue.submit([enc.finish()]);
      this.submits++;
      queued.push(slot);
      slot ^= 1;
    };
    const read = async () => {
      const buf = this.#staging[queued.shift()!];
      await buf.mapAsync(GPUMapMode.READ);
      const words = new Uint32Array(buf.getMappedRange().slice(0));
      buf.unmap();
      return words;
    };
    const depth = this.#pipelined ? 2 : 1;
    let pos = 0;
    try {
      while (true) {
        while (queued.length < depth && predicted < steps) submit();
        if (queued.length === 0) return;
        const words = await read();
        const newPos = words[S + 1], done = words[S + 3] !== 0;
        for (let p = pos + 1; p <= newPos; p++) {
          if (done && stopAtBos && p === newPos && words[p] === BOS) return;
          yield words[p];
        }
        pos = newPos;
        if (done) return;
      }
    } finally {
      while (queued.length > 0) await read();
    }
  }

  /** Destroys the buffers and the plan's uniforms. */
  [Symbol.dispose](): void {
    this.#plan[Symbol.dispose]();
    this.#pool[Symbol.dispose]();
  }
}
