"""The PyTorch reference of `deno run -A main.ts train`: the same training run on the CPU, with
the same settings, the same initial weights and the same batches, logging the same JSON lines.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 \\
        tools/train_torch.py --data-dir DATA --out-dir OUT --batch-size 8 --max-iters 200 ...

What is ported, and from where
------------------------------
* Model and initial weights: tools/torch_model.py (functional llama2.c model.py in float32;
  init_params is bit-identical to src/model/init.ts's initParams for the same seed).
* Batches: src/data/dataset.ts's PretokDataset and src/util/rng.ts's Xoshiro128, exactly:
  shards are DATA_DIR/TinyStories_all_data/*.bin (llama2) or DATA_DIR/tok{N}/*.bin (custom),
  sorted by name, memory-mapped uint16; shard 0 is val, the rest train (one shard serves both).
  Each split has its own xoshiro128** stream, fromSeed(seed, 0) for train and
  fromSeed(seed, 1) for val; each row draws nextInt(#shards) then nextInt(len - T) (both
  draws even with one shard), x = window[:T], y = window[1:].
* Schedule: train.py's get_lr (src/train/schedule.ts): linear warmup from 0, cosine to 0 at
  max_iters, 0 after it; constant with --no-decay-lr.
* Optimizer: torch.optim.AdamW(lr, betas (beta1, beta2), eps 1e-8), weight_decay on the tensor
  table's decay tensors (the 2-D weights) only; clip_grad_norm_(grad_clip) before each step
  (0 disables); the loss of each micro-batch divided by gradient_accumulation_steps.
* Loop and eval (src/train/trainer.ts): steps 0..max_iters inclusive; at every eval_interval
  (step 0 included) both splits are evaluated on eval_iters batches drawn from a sampler
  reseeded with seed + 0x5eed (same stream numbers), then the training sampler state is
  restored. A train line logs the last micro-batch's loss (before the update), the learning
  rate, the wall time per step since the previous log line (eval time excluded, batch sampling
  included) and tokens/s; MFU as train.py's running estimate against --peak-flops.

On a CUDA machine, --device cuda runs the same loop on the GPU (float32 matmuls at full
precision: PyTorch's default leaves TF32 off), for the ratio to babyllama on the same card;
--time-limit S stops training after S seconds (tools/device_check.sh uses both).

Not done here: checkpoints and model.bin (the GPU trainer writes them after an eval whose val
loss improved; that time is outside the timed step there too), dropout (must be 0), resume.

Flags mirror ours (kebab-case, same defaults; `--out` is an alias of `--out-dir`, which
defaults to out-torch here), plus --threads (torch.set_num_threads, default 2), --dtype
(float32, or float64: the same run in double precision, a control for how far float32
rounding alone moves the loss curve) and --max-batches-check N (print the first N training
rows' (shard, start) and exit: for comparing the sampler with the TypeScript one).

Threads: Debian's torch 1.13 runs matmuls in OpenBLAS (its own pthread pool, OPENBLAS_NUM_THREADS,
default one per core) and elementwise ops in OpenMP (torch.set_num_threads). With libgomp's
default wait policy the idle OpenMP threads spin against the BLAS threads on a 2-core machine;
OMP_WAIT_POLICY=PASSIVE in the environment avoids that (measured at dim 288, B 8, T 256: 2.9 ->
1.9 s per step).
"""
import argparse
import datetime
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model as tm  # noqa: E402

M32 = 0xFFFFFFFF
EVAL_SEED_OFFSET = 0x5EED  # src/train/trainer.ts

# ----------------------------------------------------------------------------------------------
# xoshiro128** seeded through splitmix32 (src/util/rng.ts)


def _imul(a, b):
    return (a * b) & M32


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def _splitmix32(state):
    state = (state + 0x9E3779B9) & M32
    z = state
    z = _imul(z ^ (z >> 16), 0x85EBCA6B)
    z = _imul(z ^ (z >> 13), 0xC2B2AE35)
    return state, (z ^ (z >> 16)) & M32


class Xoshiro128:
    """src/util/rng.ts's Xoshiro128: same seeding, same stream, same nextInt."""

    def __init__(self, s):
        self.s = [v & M32 for v in s]

    @staticmethod
    def from_seed(seed, stream=0):
        st = (seed & M32) ^ _imul(stream & M32, 0x632BE5AB)
        hi = (abs(seed) // 4294967296) & M32
        s = []
        for i in range(4):
            st, out = _splitmix32(st ^ (hi if i == 1 else 0))
            s.append(out)
        if (s[0] | s[1] | s[2] | s[3]) == 0:
            s[0] = 1
        return Xoshiro128(s)

    def state(self):
        return list(self.s)

    def next_u32(self):
        s = self.s
        result = _imul(_rotl(_imul(s[1], 5), 7), 9)
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def next_int(self, n):
        assert 1 <= n <= 2 ** 53
        if n <= 2 ** 32:
            limit = 2 ** 32 - (2 ** 32 % n)
            while True:
                r = self.next_u32()
                if r < limit:
                    return r % n
        limit = 2 ** 53 - (2 ** 53 % n)
        while True:
            r = (self.next_u32() >> 11) * 4294967296 + self.next_u32()
            if r < limit:
                return r % n


# ----------------------------------------------------------------------------------------------
# PretokDataset (src/data/dataset.ts)


def shard_paths(data_dir, vocab_source, vocab_size):
    sub = "TinyStories_all_data" if vocab_source == "llama2" else f"tok{vocab_size}"
    d = os.path.join(data_dir, sub)
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".bin"))
    if len(files) < 2:
        raise SystemExit(f"Cannot split token shards: {d} needs at least two *.bin shards")
    return files


class PretokData:
    """Memory-mapped shards; val = shard 0, train = the rest; one Xoshiro128 per split."""

    def __init__(self, paths, seed, vocab_size):
        maps = [np.memmap(p, dtype="<u2", mode="r") for p in paths]
        self.shards = {"val": maps[:1], "train": maps[1:] if len(maps) > 1 else maps[:1]}
        self.rng = {"train": Xoshiro128.from_seed(seed, 0), "val": Xoshiro128.from_seed(seed, 1)}
        self.vocab_size = vocab_size
        self.last_rows = []  # (shard index, start) of the last batch, for --max-batches-check

    def next_batch(self, split, B, T):
        shards, rng = self.shards[split], self.rng[split]
        rows, self.last_rows = [], []
        for _ in range(B):
            k = rng.next_int(len(shards))
            start = rng.next_int(len(shards[k]) - T)
            rows.append(np.asarray(shards[k][start:start + T + 1], dtype=np.int64))
            self.last_rows.append((k, start))
        w = torch.from_numpy(np.stack(rows))
        if int(w.max()) >= self.vocab_size:
            raise SystemExit(f"Cannot use token {int(w.max())}: vocab size is {self.vocab_size}")
        return w[:, :T].contiguous(), w[:, 1:].contiguous()

    def reseed(self, split, seed):
        self.rng[split] = Xoshiro128.from_seed(seed, 0 if split == "train" else 1)

    def rng_state(self):
        return {k: v.state() for k, v in self.rng.items()}

    def set_rng_state(self, st):
        self.rng = {k: Xoshiro128(v) for k, v in st.items()}


# ----------------------------------------------------------------------------------------------
# schedule and MFU (src/train/schedule.ts)


def get_lr(it, a):
    if not a.decay_lr:
        return a.learning_rate
    if it < a.warmup_iters:
        return a.learning_rate * it / a.warmup_iters
    if it > a.max_iters:
        return 0.0
    if a.max_iters == a.warmup_iters:
        return a.learning_rate
    ratio = (it - a.warmup_iters) / (a.max_iters - a.warmup_iters)
    return 0.5 * (1.0 + math.cos(math.pi * ratio)) * a.learning_rate


def flops_per_token(cfg):
    entries, _ = tm.tensor_table(cfg)
    n = sum(e.numel for e in entries)
    return 6 * n + 12 * cfg.n_layers * cfg.n_heads * cfg.head_size * cfg.max_seq_len, n


# ----------------------------------------------------------------------------------------------
# flags (src/train/config.ts's TRAIN_DEFAULTS; only the ones that matter here)

DEFAULTS = {
    "batch_size": 128, "max_seq_len": 256, "vocab_source": "llama2", "vocab_size": 32000,
    "dim": 288, "n_layers": 6, "n_heads": 6, "n_kv_heads": 6, "multiple_of": 32, "dropout": 0.0,
    "gradient_accumulation_steps": 4, "learning_rate": 5e-4, "max_iters": 100000,
    "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "grad_clip": 1.0, "decay_lr": True,
    "warmup_iters": 1000, "eval_interval": 2000, "log_interval": 1, "eval_iters": 100,
    "eval_only": False, "out_dir": "out-torch", "seed": 1337, "data_dir": "data",
    "peak_flops": 1e12, "threads": 2, "dtype": "float32",
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", help="JSON file of settings (snake_case or kebab-case keys)")
    for k, v in DEFAULTS.items():
        names = ["--" + k.replace("_", "-")] + (["--out"] if k == "out_dir" else [])
        if isinstance(v, bool):
            p.add_argument(*names, dest=k, action=argparse.BooleanOptionalAction, default=v)
        elif k == "dtype":
            p.add_argument(*names, dest=k, choices=["float32", "float64"], default=v,
                           help="float64: the same run in double precision (a control for how "
                                "far float32 rounding alone moves the loss curve)")
        else:
            p.add_argument(*names, dest=k, type=type(v), default=v)
    p.add_argument("--max-batches-check", type=int, default=0,
                   help="print the first N training rows' (shard, start) and exit")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="stop training after this many seconds (0: no limit)")
    pre, _ = p.parse_known_args(argv)
    if pre.config:
        with open(pre.config) as f:
            conf = {k.replace("-", "_"): v for k, v in json.load(f).items()}
        p.set_defaults(**{k: v for k, v in conf.items() if k in DEFAULTS})
    a = p.parse_args(argv)
    if a.dropout != 0:
        raise SystemExit("Cannot use dropout: this reference runs dropout 0 only")
    if a.vocab_source == "llama2" and a.vocab_size != 32000:
        raise SystemExit("Cannot use vocab_source llama2 with a vocab_size other than 32000")
    return a


# ----------------------------------------------------------------------------------------------


def _device_name(dev):
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (cuda)"
    return "the CPU"


def main(argv):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    B, T, accum = a.batch_size, a.max_seq_len, a.gradient_accumulation_steps
    tokens_per_iter = accum * B * T
    ds = PretokData(shard_paths(a.data_dir, a.vocab_source, a.vocab_size), a.seed, a.vocab_size)
    if a.max_batches_check:
        n = 0
        while n < a.max_batches_check:
            ds.next_batch("train", B, T)
            for k, start in ds.last_rows[:a.max_batches_check - n]:
                print(k, start)
                n += 1
        return

    cfg = tm.Config(dim=a.dim, n_layers=a.n_layers, n_heads=a.n_heads, n_kv_heads=a.n_kv_heads,
                    vocab_size=a.vocab_size, multiple_of=a.multiple_of, max_seq_len=T)
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    dev = torch.device(a.device)
    leaves = {k: v.to(device=dev, dtype=dtype).requires_grad_(True)
              for k, v in tm.init_params(cfg, a.seed).items()}
    order = [leaves[e.name] for e in tm.tensor_table(cfg)[0]]
    opt = tm.make_adamw(cfg, leaves, a.learning_rate, (a.beta1, a.beta2), 1e-8, a.weight_decay)
    fpt, nparams = flops_per_token(cfg)
    print(f"model: {nparams} parameters, dim {cfg.dim}, {cfg.n_layers} layers, {cfg.n_heads} "
          f"heads, {cfg.n_kv_heads} kv heads, vocab {cfg.vocab_size}; tokens per iteration "
          f"{tokens_per_iter} ({accum} x {B} x {T}); torch {torch.__version__} on "
          f"{_device_name(dev)}, {torch.get_num_threads()} threads, {a.dtype}", flush=True)

    os.makedirs(a.out_dir, exist_ok=True)
    log_path = os.path.join(a.out_dir, "log.jsonl")
    tmp = log_path + ".tmp"
    open(tmp, "w").close()
    os.replace(tmp, log_path)
    log = open(log_path, "a")

    def write(rec):
        rec["time"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        log.write(json.dumps(rec) + "\n")
        log.flush()

    @torch.no_grad()
    def estimate_loss():
        saved = ds.rng_state()
        out = {}
        for split in ("train", "val"):
            ds.reseed(split, a.seed + EVAL_SEED_OFFSET)
            total = 0.0
            for _ in range(a.eval_iters):
                x, y = ds.next_batch(split, B, T)
                total += tm.forward(cfg, leaves, x.to(dev), y.to(dev))[1].item()
            out[split] = total / a.eval_iters
        ds.set_rng_state(saved)
        return out

    it, local_iter, running_mfu, best_val = 0, 0, -1.0, 1e9
    t0, since_log = time.perf_counter(), 0
    t_start = time.perf_counter()
    while True:
        lr = get_lr(it, a)
        if it % a.eval_interval == 0:
            te = time.perf_counter()
            losses = estimate_loss()
            ms = (time.perf_counter() - te) * 1000
            print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}",
                  flush=True)
            write({"type": "eval", "iter": it, "train_loss": losses["train"],
                   "val_loss": losses["val"], "lr": lr, "ms": ms})
            best_val = min(best_val, losses["val"])
            t0, since_log = time.perf_counter(), 0
        if it == 0 and a.eval_only:
            break

        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        for _ in range(accum):
            x, y = ds.next_batch("train", B, T)
            _, loss = tm.forward(cfg, leaves, x.to(dev), y.to(dev))
            (loss / accum).backward()
        if a.grad_clip != 0.0:
            torch.nn.utils.clip_grad_norm_(order, a.grad_clip)
        opt.step()

        since_log += 1
        if it % a.log_interval == 0:
            lossf = loss.item()
            t1 = time.perf_counter()
            dt = (t1 - t0) / since_log
            t0, since_log = t1, 0
            if local_iter >= 5:
                mfu = fpt * tokens_per_iter / dt / a.peak_flops
                running_mfu = mfu if running_mfu == -1.0 else 0.9 * running_mfu + 0.1 * mfu
            tps = tokens_per_iter / dt
            print(f"{it} | loss {lossf:.4f} | lr {lr:e} | {dt * 1000:.2f}ms | {tps:.0f} tok/s | "
                  f"mfu {running_mfu * 100:.2f}%", flush=True)
            write({"type": "train", "iter": it, "loss": lossf, "lr": lr, "ms": dt * 1000,
                   "tokens_per_s": tps, "mfu": running_mfu})
        it += 1
        local_iter += 1
        if it > a.max_iters:
            break
        if a.time_limit > 0 and time.perf_counter() - t_start > a.time_limit:
            print(f"time limit: stopping after {a.time_limit:g} s", flush=True)
            break
    log.close()
    print(f"done: {it} steps, best val loss {best_val:.4f}, log {log_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
