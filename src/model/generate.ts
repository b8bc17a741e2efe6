/**
 * Text generation on the GPU with a KV cache, many decode steps per submit (llama2.c run.c's
 * `generate`, without a CPU round trip per token).
 *
 * One decode step is recorded once as a {@link Plan} in one of several variants (see
 * {@link decodeVariants}); each ends with the sampler, which writes the next token into
 * `tokens[pos + 1]` and into the decode state and advances `pos`. Because position and token
 * live in a GPU storage buffer, the same recorded step is replayed K times into one command
 * encoder (or, for the `token` variants, one dispatch loops over K steps); the CPU reads the
 * token array once per K tokens.
 * - `unfused`: one dispatch per op: embedding, per layer rmsnorm, q/k/v matvecs, RoPE with the
 *   cache write, attention, wo + residual, rmsnorm, w1/w3, SwiGLU, w2 + residual; final
 *   rmsnorm, classifier, sampler: 4 + 12 L dispatches.
 * - `layered_*`: fused kernels, 3 + 5 L dispatches: embedding; per layer qkv_decode (RMSNorm +
 *   q/k/v + RoPE + cache write), attention_decode, wo + residual, ffn_decode (RMSNorm + w1/w3 +
 *   SwiGLU), w2 + residual; the classifier with the final RMSNorm fused; the sampler. The
 *   CPU-shaped form (`layered_wg8_split1`) runs each RMSNorm as its own dispatch (4 + 7 L) and
 *   reads tiled matrices (src/model/decode_layout.ts); `_sg` forms add partial sums with
 *   subgroup operations.
 * - `token_*`: token_decode, whole steps in one workgroup, one dispatch per K steps;
 *   `token_lockstep_*` is its barrier-free form for llvmpipe (one core runs it without any
 *   dispatch or barrier overhead), and `token_lockstep_tex_*` that form with the weights in a
 *   read-only storage texture, written once here (llvmpipe loads 8 lanes' texels in one call
 *   instead of a per-lane loop: the CPU default where the device has subgroups).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type BufferBinding, BufferPool, roundUp, writeBuffer } from "../gpu/buffers.ts";
import { type DispatchHandle, Plan } from "../gpu/plan.ts";
import { headSize, kvDim, type ModelConfig, validateConfig } from "./config.ts";
import { type TensorName, tensorRange, type TensorTable, tensorTable } from "./tensors.ts";
import {
  decodeLayout,
  matrixFloats,
  packDecodeParams,
  tokenLayoutParams,
} from "./decode_layout.ts";
import {
  attentionDecode,
  checkSampleParams,
  DECODE_STATE_WORDS,
  decodeTextureUnfit,
  decodeWeightsTexture,
  embeddingDecode,
  ffnDecode,
  lockstepWidth,
  matvecDecode,
  qkvDecode,
  rmsnormDecode,
  ropeDecode,
  sample,
  type SampleParams,
  tokenAttentionLanes,
  tokenDecode,
  type TokenDecodeParams,
  tokenScratchFloats,
} from "../ops/decode.ts";
import { ropeFreqs } from "./rope_freqs.ts";
import { swigluForward } from "../ops/swiglu.ts";

/** BOS token id (llama2.c): generation stops when the model produces it. */
export const BOS = 1;

/** How one decode step is recorded (see the module doc). */
export interface DecodeVariant {
  /** Name, e.g. `token_wg8` or `layered_wg64_split16`. */
  name: string;
  /**
   * `unfused` (one dispatch per op), `layered` (5 per layer), `token` (one dispatch per K steps),
   * `token_lockstep` (the same without barriers, on llvmpipe) or `token_lockstep_tex` (that with
   * the weights read from a texture).
   */
  kind: "unfused" | "layered" | "token" | "token_lockstep" | "token_lockstep_tex";
  /** Invocations per workgroup of the matvec kernels (layered, unfused) or of token_decode. */
  WG: number;
  /** Invocations sharing 4 matvec rows (1 for token). */
  SPLIT: number;
  /** The matvec partial sums are added with subgroup operations (SPLIT = WG). */
  subgroup: boolean;
}

const _variant = (
  kind: DecodeVariant["kind"],
  WG: number,
  SPLIT = 1,
  subgroup = false,
): DecodeVariant => ({
  name: kind.startsWith("token")
    ? `${kind}_wg${WG}`
    : `${kind}_wg${WG}_${subgroup ? "sg" : `split${SPLIT}`}`,
  kind,
  WG,
  SPLIT,
  subgroup,
});

/**
 * Parameters up to which a CPU adapter decodes a whole step in one workgroup with barriers
 * (token_wg8); its barrier-free form on llvmpipe (token_lockstep) is the default up to
 * {@link LOCKSTEP_MAX_PARAMS}: on 2 cores it ran the 15M model at ~100 tok/s against ~50 for the
 * per-layer path, whose 2 threads meet at every one of ~45 dispatches per token.
 */
const TOKEN_MAX_PARAMS_CPU = 2_000_000;
/** See {@link TOKEN_MAX_PARAMS_CPU}. */
const LOCKSTEP_MAX_PARAMS = 32_000_000;
/** The same on a GPU, where one workgroup uses a small part of the chip. */
const TOKEN_MAX_PARAMS_GPU = 1_000_000;

/**
 * Every decode variant that can run `config` on `gpu`, each a candidate with a name: the
 * per-op path, the fused per-layer path with CPU-shaped (8 invocations, one per 4 rows) and
 * GPU-shaped (64 or 256 invocations, 16 or 32 per 4 rows, or the whole workgroup per 4 rows added
 * with subgroup operations where the device has `subgroups`) matvecs, and the whole-step kernel in
 * one workgroup of 8, 64 or 256 when the weights fit one storage binding (plus its barrier-free
 * form on llvmpipe, a workgroup of the SIMD width, and that form with the weights in a texture
 * where the device has subgroups of 8 and the texture fits its limits).
 */
export function decodeVariants(gpu: Gpu, config: ModelConfig): DecodeVariant[] {
  const out = [
    _variant("unfused", 8, 1),
    _variant("unfused", 64, 16),
    _variant("layered", 8, 1),
    _variant("layered", 64, 16),
    _variant("layered", 256, 32),
  ];
  if (gpu.subgroups) {
    out.push(_variant("layered", 64, 64, true), _variant("layered", 256, 256, true));
  }
  const lay = decodeLayout(config), maxBinding = gpu.limits.maxStorageBufferBindingSize;
  const cacheBytes = 2 * roundUp(config.n_layers * config.max_seq_len * kvDim(config), 64) * 4;
  const heads = { NH: config.n_heads, NKV: config.n_kv_heads, HS: headSize(config) };
  if (lay.size * 4 <= maxBinding && cacheBytes <= maxBinding) {
    const lanes = lockstepWidth(gpu);
    if (lanes >= 1 && lanes <= 256 && tokenAttentionLanes(heads, lanes) > 0) {
      out.push(_variant("token_lockstep", lanes));
      if (decodeTextureUnfit(gpu, decodeLayout(config, 4 * lanes).size, lanes) === null) {
        out.push(_variant("token_lockstep_tex", lanes));
      }
    }
    for (const WG of [8, 64, 256]) {
      if (
        WG <= gpu.limits.maxComputeInvocationsPerWorkgroup && tokenAttentionLanes(heads, WG) > 0
      ) {
        out.push(_variant("token", WG));
      }
    }
  }
  return out;
}

/**
 * The default decode variant for `config` on `gpu`: deterministic per adapter class (a tuner may
 * pick another from {@link decodeVariants}). CPU adapters: the whole step in one workgroup
 * without barriers on llvmpipe up to 32M parameters (when the weights fit one binding), reading
 * the weights from a texture where the device has subgroups of 8 (token_lockstep_tex: 1.5-2x
 * the speed of token_lockstep on the 15M model, whose loads are nearly all weights), else
 * with barriers up to 2M, else the per-layer path with one invocation per 4 rows; GPUs: the
 * whole step in a workgroup of 256 up to 1M parameters, else the per-layer path with 16
 * invocations per 4 rows.
 */
export function decodeVariant(gpu: Gpu, config: ModelConfig): DecodeVariant {
  const all = decodeVariants(gpu, config);
  const params = tensorTable(config).numParams;
  const pick = (name: string) => all.find((v) => v.name === name);
  if (gpu.isCpu) {
    const lockstep = all.find((v) => v.kind === "token_lockstep_tex") ??
      all.find((v) => v.kind === "token_lockstep");
    if (lockstep && params <= LOCKSTEP_MAX_PARAMS) return lockstep;
    return (params <= TOKEN_MAX_PARAMS_CPU && pick("token_wg8")) || pick("layered_wg8_split1")!;
  }
  return (params <= TOKEN_MAX_PARAMS_GPU && pick("token_wg256")) ||
    pick("layered_wg64_split16")!;
}

/** Options of {@link Generator}. */
export interface GeneratorOptions {
  /**
   * Decode steps per submit, i.e. per readback (default 16, or 128 for the `token` variants,
   * whose dispatch loops over the steps: each readback costs ~11 ms on a CPU adapter).
   */
  stepsPerSubmit?: number;
  /** Submit the next batch of steps before reading the previous one (default true). */
  pipelined?: boolean;
  /** A variant name from {@link decodeVariants} (default {@link decodeVariant}). */
  variant?: string;
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
  /** The decode variant in use. */
  readonly variant: DecodeVariant;
  /** Logits [V] of the last step run (for tests). */
  readonly logits: GPUBuffer;
  /** Number of submits of the last {@link generate} call. */
  submits = 0;

  #pool: BufferPool;
  #texture: GPUTexture | null = null;
  #plan: Plan;
  #sampleHandle: DispatchHandle;
  #sampleBase: Record<string, number>;
  #state: GPUBuffer;
  #tokens: GPUBuffer;
  #prompt: GPUBuffer;
  #staging: GPUBuffer[];
  #pipelined: boolean;
  #busy = false;

  /**
   * Uploads the parameters (in the variant's layout), allocates the KV cache and records one
   * decode step.
   *
   * @param gpu the device owner
   * @param config the model's shape
   * @param params flat parameters in the {@link tensorTable} layout
   * @param options steps per submit, pipelining, variant
   * @throws {TypeError} when `params` does not have the table's size
   * @throws {RangeError} for a bad stepsPerSubmit or an unknown variant
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
    this.#pipelined = options.pipelined ?? true;
    if (options.variant === undefined) this.variant = decodeVariant(gpu, config);
    else {
      const all = decodeVariants(gpu, config);
      const v = all.find((c) => c.name === options.variant);
      if (!v) {
        throw new RangeError(
          `Cannot build generator: unknown decode variant '${options.variant}' (${
            all.map((c) => c.name).join(", ")
          })`,
        );
      }
      this.variant = v;
    }
    const K = options.stepsPerSubmit ?? (this.variant.kind.startsWith("token") ? 128 : 16);
    if (!(Number.isInteger(K) && K >= 1 && K <= 4096)) {
      throw new RangeError(`Cannot build generator: stepsPerSubmit ${K} must be in 1..4096`);
    }
    this.stepsPerSubmit = K;
    const C = config.dim, H = config.hidden_dim, V = config.vocab_size, L = config.n_layers;
    const S = config.max_seq_len, KV = kvDim(config), NH = config.n_heads;
    const NKV = config.n_kv_heads, HS = headSize(config);
    const pool = (this.#pool = new BufferPool(gpu));
    const f = (label: string, n: number) => pool.create(label, n * 4);

    // RoPE tables: cos [S, HS/2], then sin from a 256-byte boundary
    const rope = ropeFreqs(HS, S), sinOffset = roundUp(rope.cos.length, 64);
    const freqData = new Float32Array(sinOffset + rope.sin.length);
    freqData.set(rope.cos);
    freqData.set(rope.sin, sinOffset);
    const freqs = pool.upload("freqs", freqData);
    // KV cache: keys [L, S, KV], then values from a 256-byte boundary
    const valueOffset = roundUp(L * S * KV, 64);
    const kvCache = f("kv_cache", 2 * valueOffset);
    const keyCache = { buffer: kvCache, offset: 0, size: L * S * KV * 4 };
    const valueCache = { buffer: kvCache, offset: valueOffset * 4, size: L * S * KV * 4 };
    this.logits = f("logits", V);
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
    const state = this.#state;
    const sampler: SampleParams = {
      V,
      temperature: 0,
      top_p: 0,
      seed: 0,
      prompt_len: 1,
      steps: S,
      stop_at_bos: 1,
    };
    const plan = (this.#plan = new Plan(gpu, `decode_step:${this.variant.name}`));
    const shape = {
      WG: this.variant.WG,
      SPLIT: this.variant.SPLIT,
      subgroup: this.variant.subgroup,
    };

    // CPU-shaped matvecs (one invocation per 4 rows) read tiled matrices: the WG invocations'
    // loads at each column are consecutive (src/model/decode_layout.ts)
    const tile = this.variant.SPLIT === 1 ? 4 * this.variant.WG : 0;
    if (this.variant.kind.startsWith("token")) {
      const lay = decodeLayout(config, tile);
      const packed = packDecodeParams(config, this.table, params, tile);
      let weights: GPUBuffer | GPUTextureView;
      if (this.variant.kind === "token_lockstep_tex") {
        this.#texture = decodeWeightsTexture(gpu, packed);
        weights = this.#texture.createView();
      } else weights = pool.upload("params:decode", packed);
      const p: TokenDecodeParams = {
        ...sampler,
        C,
        H,
        V,
        L,
        NH,
        NKV,
        HS,
        S,
        eps: config.norm_eps,
        ...tokenLayoutParams(lay, tile),
        sin_offset: sinOffset,
        value_offset: valueOffset,
        tokens_per_dispatch: K,
      };
      const { NH: _nh, HS: _hs, ...runtime } = p;
      this.#sampleBase = runtime;
      this.#sampleHandle = tokenDecode(
        plan,
        {
          weights,
          freqs,
          kv_cache: kvCache,
          state,
          tokens: this.#tokens,
          prompt: this.#prompt,
          logits: this.logits,
          scratch: f("token_scratch", tokenScratchFloats({ C, H, V })),
        },
        p,
        this.variant.WG,
        this.variant.kind !== "token",
      );
      return;
    }

    const x = f("x", C), xn = f("xn", C), q = f("q", C), att = f("att", C);
    const scores = f("att_scores", NH * S), hg = f("hg", H), probs = f("probs", V);
    if (this.variant.kind === "layered") {
      const lay = decodeLayout(config, tile);
      const weights = pool.upload(
        "params:decode",
        packDecodeParams(config, this.table, params, tile),
      );
      const mat = (rows: number, cols: number) => matrixFloats(rows, cols, tile);
      const W = (offset: number, n: number): BufferBinding => ({
        buffer: weights,
        offset: offset * 4,
        size: n * 4,
      });
      // GPU-shaped matvecs fuse the RMSNorm (every invocation reads all of x: one broadcast load
      // on a GPU); on a CPU adapter each invocation's loads are its own, so xn is made once by
      // rmsnorm_decode and the matvecs read it.
      const fused = this.variant.SPLIT > 1, eps = config.norm_eps;
      const normed = (w: BufferBinding) => {
        if (fused) return { inp: x, norm_weight: w, norm: { eps } };
        rmsnormDecode(plan, { out: xn, inp: x, weight: w }, { C, eps });
        return { inp: xn, norm: undefined };
      };
      embeddingDecode(plan, { out: x, state, weight: W(lay.emb, mat(V, C)) }, { C, tile });
      for (let l = 0; l < L; l++) {
        const b = lay.layer0 + l * lay.layerStride;
        const sizes = { NH, NKV, HS, S, layer: l };
        const att1 = normed(W(b + lay.rmsAtt, C));
        qkvDecode(
          plan,
          {
            q,
            key_cache: keyCache,
            value_cache: valueCache,
            inp: att1.inp,
            norm_weight: att1.norm_weight,
            weight: W(b + lay.wqkv, mat(C + 2 * KV, C)),
            state,
            freqs,
          },
          { ...sizes, sin_offset: sinOffset, norm: att1.norm, tile },
          shape,
        );
        attentionDecode(plan, {
          out: att,
          q,
          key_cache: keyCache,
          value_cache: valueCache,
          att: scores,
          state,
        }, sizes);
        matvecDecode(plan, { out: x, inp: att, weight: W(b + lay.wo, mat(C, C)) }, {
          C,
          OC: C,
          accumulate: true,
          tile,
        }, shape);
        const ffn1 = normed(W(b + lay.rmsFfn, C));
        ffnDecode(
          plan,
          {
            out: hg,
            inp: ffn1.inp,
            norm_weight: ffn1.norm_weight,
            weight: W(b + lay.w13, mat(2 * H, C)),
          },
          { C, H, norm: ffn1.norm, tile },
          shape,
        );
        matvecDecode(plan, { out: x, inp: hg, weight: W(b + lay.w2, mat(C, H)) }, {
          C: H,
          OC: C,
          accumulate: true,
          tile,
        }, shape);
      }
      const fin = normed(W(lay.rmsFinal, C));
      matvecDecode(
        plan,
        {
          out: this.logits,
          inp: fin.inp,
          norm_weight: fin.norm_weight,
          weight: W(lay.wcls, mat(V, C)),
        },
        { C, OC: V, norm: fin.norm, tile },
        shape,
      );
    } else {
      const paramsBuf = pool.upload("params", params as Float32Array<ArrayBuffer>);
      const P = (name: TensorName, layer = 0): BufferBinding => ({
        buffer: paramsBuf,
        ...tensorRange(this.table, name, layer),
      });
      const h1 = f("h1", H), h3 = f("h3", H), k = f("k", KV), v = f("v", KV);
      const mm = (
        out: GPUBuffer,
        inp: GPUBuffer,
        w: BufferBinding,
        Cin: number,
        OC: number,
        acc = false,
      ) => matvecDecode(plan, { out, inp, weight: w }, { C: Cin, OC, accumulate: acc }, shape);
      const norm = (out: GPUBuffer, inp: GPUBuffer, w: BufferBinding) =>
        rmsnormDecode(plan, { out, inp, weight: w }, { C, eps: config.norm_eps });
      embeddingDecode(plan, { out: x, state, weight: P("tok_embeddings") }, { C });
      for (let l = 0; l < L; l++) {
        const sizes = { NH, NKV, HS, S, layer: l };
        norm(xn, x, P("rms_att", l));
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
          freqs_cos: { buffer: freqs, offset: 0, size: rope.cos.length * 4 },
          freqs_sin: { buffer: freqs, offset: sinOffset * 4, size: rope.sin.length * 4 },
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
        norm(xn, x, P("rms_ffn", l));
        mm(h1, xn, P("w1", l), C, H);
        mm(h3, xn, P("w3", l), C, H);
        swigluForward(plan, { out: hg, h1, h3 }, { N: H });
        mm(x, hg, P("w2", l), H, C, true);
      }
      norm(xn, x, P("rms_final"));
      mm(this.logits, xn, P(config.shared_classifier ? "tok_embeddings" : "wcls"), C, V);
    }
    this.#sampleBase = { ...sampler };
    this.#sampleHandle = sample(plan, {
      state,
      tokens: this.#tokens,
      logits: this.logits,
      prompt: this.#prompt,
      probs,
    }, sampler);
  }

  /**
   * Dispatches per decoded token: the recorded step's dispatches, or 1 / stepsPerSubmit for the
   * `token` variants (one dispatch runs a whole batch of steps).
   */
  get dispatchesPerToken(): number {
    return this.variant.kind.startsWith("token") ? 1 / this.stepsPerSubmit : this.#plan.length;
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
      const base = this.#sampleBase;
      const given = Object.entries(params).filter(([k]) => k in base);
      this.#plan.setParams(this.#sampleHandle, { ...base, ...Object.fromEntries(given) });
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
      // a token_decode dispatch loops over up to stepsPerSubmit steps itself
      const encodes = this.variant.kind.startsWith("token") ? 1 : n;
      for (let i = 0; i < encodes; i++) this.#plan.encode(enc);
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
    this.#texture?.destroy();
  }
}
