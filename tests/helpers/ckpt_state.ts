/** Deterministic checkpoint states for checkpoint tests (also used by a crash subprocess). */
import type { CheckpointState } from "../../src/io/checkpoint.ts";
import type { TrainConfig } from "../../src/train/config.ts";
import { modelConfig } from "../../src/model/config.ts";
import { tensorTable } from "../../src/model/tensors.ts";
import { TRAIN_DEFAULTS } from "../../src/train/config.ts";
import { Xoshiro128 } from "../../src/util/rng.ts";

/** Flat array with a distinct value per real element, zero padding (like the GPU buffers). */
export function flatValues(
  cfg: ReturnType<typeof modelConfig>,
  base: number,
): Float32Array<ArrayBuffer> {
  const t = tensorTable(cfg), a = new Float32Array(t.size);
  let k = 0;
  for (const e of t.entries) {
    for (let l = 0; l < e.layers; l++) {
      for (let i = 0; i < e.layerNumel; i++) {
        a[e.offset + l * e.layerStride + i] = base + k++ * 1e-3;
      }
    }
  }
  return a;
}

/**
 * A checkpoint state whose every array and field depends on `base`, so two states never share a
 * value (a mixed pair is detectable): a 64-wide 2-layer model, or with `tiny` a 16-wide 1-layer
 * one (the legacy fixture's shape).
 */
export function checkpointState(
  base: number,
  iter: number,
  opts: { shared?: boolean; tiny?: boolean } = {},
): CheckpointState<TrainConfig> {
  const shape = opts.tiny
    ? { dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, vocab_size: 32, max_seq_len: 8 }
    : { dim: 64, n_layers: 2, n_heads: 4, n_kv_heads: 2, vocab_size: 512, max_seq_len: 32 };
  const config = modelConfig({ ...shape, shared_classifier: opts.shared ?? true });
  const rng = Xoshiro128.fromSeed(5 + base);
  return {
    config,
    trainConfig: { ...TRAIN_DEFAULTS, vocab_source: "custom", ...shape },
    iter,
    bestValLoss: 2 + base / 8,
    rngState: { train: rng.state(), val: (rng.nextU32(), rng.state()) },
    params: flatValues(config, base),
    adamM: flatValues(config, -7 - base),
    adamV: flatValues(config, 100 + base),
  };
}
