"""Writes the whole-model PyTorch fixtures under tests/fixtures/ (run: /usr/bin/python3
tools/make_model_fixtures.py [--out tests/fixtures] [--only tiny,15m,260k,dtypes]; about a
minute on one CPU thread; CI does not run it, the outputs are committed).

Every reference number comes from tools/torch_model.py (our own functional PyTorch version of
llama2.c's model.py, float32, checked to give bit-identical logits and gradients to model.py's
Transformer) and torch.optim.AdamW. Weights come from the counter-based generator of
src/util/rng.ts / src/model/init.ts, re-implemented vectorised in torch_model.py (bit-identical
to the TypeScript initParams for both configs below).

Conventions shared by all files
-------------------------------
* safetensors, tensors named `<kind>.<llama2.c name>` with per-layer tensors STACKED over
  layers: e.g. `grad.wq` is F32 [L, C, C], `grad.rms_att` is F32 [L, C], `grad.tok_embeddings`
  is F32 [V, C]. Our flat buffer is the same data with each layer slice padded to 64 floats:
  layer l of tensor e lives at `e.offset + l * e.layerStride` (src/model/tensors.ts).
* Metadata (all strings): `config` (JSON of ModelConfig fields), `seed` (initParams seed),
  `B`, `T`, `adamw` (JSON of the optimizer settings), `description`.
* Token data: with S = bitsAt(seed + 1, i) % V for i < B * (T + 1), row b of `tokens` is
  S[b*(T+1) : b*(T+1)+T] and row b of `targets` is S[b*(T+1)+1 : b*(T+1)+T+1] (both I32
  [B, T]); the tiny fixture then sets some targets to -1 (ignored by the loss). The stored
  tensors are authoritative; the rule lets a test also check bitsAt.
* Loss: mean cross-entropy over targets != -1 (F.cross_entropy, ignore_index=-1).
* AdamW run (`adamw_losses` F32 [6], `adamw_grad_norms` F32 [5]): start from the initial
  weights; for k = 0..4: forward+backward on the SAME batch, `adamw_losses[k]` = that loss,
  `adamw_grad_norms[k]` = global L2 norm of all gradients before clipping, clip to norm 1.0
  (torch.nn.utils.clip_grad_norm_: scale = min(1, 1 / (norm + 1e-6))), AdamW step.
  `adamw_losses[5]` = loss after the 5th step. AdamW (torch 1.13, no schedule): lr 1e-3,
  betas (0.9, 0.95), eps 1e-8, weight_decay 0.1 on tensors with `decay` in the tensor table
  (the 2-D weights: tok_embeddings, wq, wk, wv, wo, w1, w2, w3, wcls), 0 on rms_*; per element
  with t = k + 1: p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
  p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). The tied classifier is one
  parameter (tok_embeddings), its gradient the sum of both uses.

(a) model_tiny.safetensors: dim 48, n_layers 2, n_heads 6, n_kv_heads 2 (GQA), vocab 67,
    hidden_dim 128 (multiple_of 32), max_seq_len 16, tied; seed 7; B 3, T 11; targets[0, 3],
    targets[1, 0] and targets[2, 10] set to -1.
    Tensors: tokens, targets (I32 [B,T]); param.<name> (initial weights = initParams(table, 7));
    logits F32 [B,T,V]; loss F32 []; grad.<name> (every gradient of that loss);
    adamw_losses, adamw_grad_norms; param_after_adamw.<name> (weights after the 5 steps).
(b) model_15m.safetensors: the default config (dim 288, 6 layers, 6 heads, 6 KV heads,
    vocab 32000, hidden 768, max_seq_len 256, tied); seed 1337; B 2, T 32; no ignored targets.
    Weights are NOT stored: the test builds them with initParams(tensorTable(modelConfig()),
    1337). Tensors: tokens, targets; loss F32 []; logits_rows F32 [2, V] (logits at (b, t) of
    logits_rows_bt I32 [2, 2] = [[0, 0], [1, 31]]); for each tensor (export index k):
    grad_norm.<name> F32 [] (L2 norm of the whole gradient), grad_idx.<name> I32 [64] with
    grad_idx[s] = bitsAt(1337 + 3, 64*k + s) % numel (numel over all layers, stacked index:
    layer = idx div layerNumel, element = idx mod layerNumel), grad_sample.<name> F32 [64]
    (the gradient there); adamw_losses, adamw_grad_norms.
    To reproduce in TS: cfg = modelConfig(); params = initParams(tensorTable(cfg), 1337);
    forward/backward on tokens/targets; compare loss, logits rows, per-tensor gradient norms,
    the sampled gradient elements (map stacked index to e.offset + layer*e.layerStride +
    element); then run the 5 AdamW steps above and compare adamw_losses.
(c) stories260K_tokens.bin: 512 uint16 little-endian token ids (< 512): 4 samples of 128
    tokens from /work/shared/data/stories260K.bin (legacy v0, read by torch_model.py's own
    loader): sample k is BOS=1, then the k-th most likely token after BOS (k = 0..3), then
    greedy (argmax) continuation to 128 tokens.
    stories260K_eval.safetensors: the `eval` command's number for that file: with tokens t,
    n = floor((len - 1) / S) windows, x_i = t[i*S : (i+1)*S], y_i = t[i*S+1 : (i+1)*S+1];
    window_losses_S<S> F32 [n] (mean CE of window i), eval_loss_S<S> F64 [] (mean over all
    n*S positions) for S = 64 (n = 7) and S = 127 (n = 4); logits_S64_w0 F32 [64, 512]
    (logits of window 0 at S = 64).
(d) model_tiny_dtypes.safetensors: a Python-written file for tests/io/safetensors_test.ts
    with one tensor per dtype whose values follow a formula (see make_dtypes below).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402
import torch_model as tm  # noqa: E402

ADAMW = {"lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1,
         "grad_clip": 1.0, "steps": 5, "schedule": "none",
         "decay": "tensor table decay flag (2-D weights); rms_* not decayed"}
STORIES = os.environ.get("BABYLLAMA_DATA_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))


def batch(cfg, seed, B, T):
    """tokens, targets (int64 [B, T]) from S = bitsAt(seed + 1, i) % V, rows of T+1."""
    s = (tm.bits_at(seed + 1, torch.arange(B * (T + 1), dtype=torch.int64)) % cfg.vocab_size)
    s = s.view(B, T + 1)
    return s[:, :T].clone(), s[:, 1:].clone()


def adamw_run(cfg, params, tokens, targets):
    """(losses [6], pre-clip grad norms [5], final leaves) for the documented AdamW run."""
    leaves = tm.make_leaves(params)
    order = [leaves[e.name] for e in tm.tensor_table(cfg)[0]]
    opt = tm.make_adamw(cfg, leaves, ADAMW["lr"], tuple(ADAMW["betas"]), ADAMW["eps"],
                        ADAMW["weight_decay"])
    losses, norms = [], []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad(set_to_none=True)
        _, loss = tm.forward(cfg, leaves, tokens, targets)
        loss.backward()
        losses.append(loss.item())
        norms.append(torch.nn.utils.clip_grad_norm_(order, ADAMW["grad_clip"]).item())
        opt.step()
    with torch.no_grad():
        losses.append(tm.forward(cfg, leaves, tokens, targets)[1].item())
    return np.array(losses, np.float32), np.array(norms, np.float32), leaves


def meta(cfg, seed, B, T, description):
    return {"config": json.dumps(cfg.to_json()), "seed": str(seed), "B": str(B), "T": str(T),
            "adamw": json.dumps(ADAMW), "description": description}


def make_tiny(out):
    cfg = tm.Config(dim=48, n_layers=2, n_heads=6, n_kv_heads=2, vocab_size=67, max_seq_len=16)
    seed, B, T = 7, 3, 11
    params = tm.init_params(cfg, seed)
    tokens, targets = batch(cfg, seed, B, T)
    targets[0, 3] = targets[1, 0] = targets[2, 10] = -1
    leaves = tm.make_leaves(params)
    logits, loss = tm.forward(cfg, leaves, tokens, targets)
    loss.backward()
    losses, norms, after = adamw_run(cfg, params, tokens, targets)
    assert abs(losses[0] - loss.item()) == 0
    t = {"tokens": tokens.int().numpy(), "targets": targets.int().numpy(),
         "logits": logits.detach().numpy(), "loss": np.array(loss.item(), np.float32),
         "adamw_losses": losses, "adamw_grad_norms": norms}
    for name in params:
        t[f"param.{name}"] = params[name].numpy()
        t[f"grad.{name}"] = leaves[name].grad.numpy()
        t[f"param_after_adamw.{name}"] = after[name].detach().numpy()
    st.save(os.path.join(out, "model_tiny.safetensors"), t,
            meta(cfg, seed, B, T, "tiny GQA model: weights, logits, loss, all gradients, AdamW"))
    print(f"tiny: loss {loss.item():.6f}, adamw losses {losses.tolist()}")


def make_15m(out):
    cfg = tm.Config()
    seed, B, T = 1337, 2, 32
    params = tm.init_params(cfg, seed)
    tokens, targets = batch(cfg, seed, B, T)
    leaves = tm.make_leaves(params)
    logits, loss = tm.forward(cfg, leaves, tokens, targets)
    loss.backward()
    bt = np.array([[0, 0], [1, T - 1]], np.int32)
    t = {"tokens": tokens.int().numpy(), "targets": targets.int().numpy(),
         "loss": np.array(loss.item(), np.float32), "logits_rows_bt": bt,
         "logits_rows": np.stack([logits[b, i].detach().numpy() for b, i in bt])}
    for k, e in enumerate(tm.tensor_table(cfg)[0]):
        g = leaves[e.name].grad.reshape(-1)
        idx = tm.bits_at(seed + 3, torch.arange(64 * k, 64 * k + 64, dtype=torch.int64)) % e.numel
        t[f"grad_norm.{e.name}"] = np.array(g.double().norm().item(), np.float32)
        t[f"grad_idx.{e.name}"] = idx.int().numpy()
        t[f"grad_sample.{e.name}"] = g[idx].numpy()
    losses, norms, _ = adamw_run(cfg, params, tokens, targets)
    t["adamw_losses"], t["adamw_grad_norms"] = losses, norms
    m = meta(cfg, seed, B, T, "default 15M model from initParams(seed): loss, gradient norms "
                              "and samples, AdamW losses")
    m["reproduce"] = (
        "cfg = modelConfig(); params = initParams(tensorTable(cfg), 1337); forward/backward on "
        "tokens/targets; compare loss, logits_rows (at logits_rows_bt), grad_norm.<name>, and "
        "grad_sample.<name> at grad_idx.<name> (stacked index: layer = idx div layerNumel, "
        "element = idx mod layerNumel, flat = offset + layer*layerStride + element); then 5 "
        "AdamW steps as in the adamw metadata (clip to global norm 1.0 first) on the same batch: "
        "adamw_losses[k] = loss before step k, adamw_losses[5] = loss after the last step")
    st.save(os.path.join(out, "model_15m.safetensors"), t, m)
    print(f"15m: loss {loss.item():.6f}, adamw losses {losses.tolist()}")


def make_260k(out):
    path = os.path.join(STORIES, "stories260K.bin")
    cfg, params = tm.load_llama2c(path)
    assert (cfg.dim, cfg.n_layers, cfg.vocab_size) == (64, 5, 512)
    seqs = []
    with torch.no_grad():
        first = tm.forward(cfg, params, torch.tensor([[1]]))[0][0, -1]
        order = torch.argsort(first, descending=True)
        for k in range(4):
            seq = [1, int(order[k])]
            while len(seq) < 128:
                lg = tm.forward(cfg, params, torch.tensor([seq]))[0][0, -1]
                seq.append(int(torch.argmax(lg)))
            seqs.append(seq)
    toks = np.array(sum(seqs, []), dtype="<u2")
    assert toks.max() < 512
    tmp = os.path.join(out, ".stories260K_tokens.bin.tmp")
    with open(tmp, "wb") as f:
        f.write(toks.tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(out, "stories260K_tokens.bin"))
    t = {}
    all_t = torch.from_numpy(toks.astype(np.int64))
    with torch.no_grad():
        for S in (64, 127):
            n = (len(toks) - 1) // S
            x = torch.stack([all_t[i * S:(i + 1) * S] for i in range(n)])
            y = torch.stack([all_t[i * S + 1:(i + 1) * S + 1] for i in range(n)])
            logits, _ = tm.forward(cfg, params, x)
            ce = torch.nn.functional.cross_entropy(
                logits.reshape(-1, cfg.vocab_size), y.reshape(-1), reduction="none").view(n, S)
            t[f"window_losses_S{S}"] = ce.mean(1).numpy()
            t[f"eval_loss_S{S}"] = np.array(ce.double().mean().item(), np.float64)
            if S == 64:
                t["logits_S64_w0"] = logits[0].numpy()
            print(f"260K: S={S} windows {n} eval loss {ce.double().mean().item():.6f}")
    st.save(os.path.join(out, "stories260K_eval.safetensors"), t, {
        "model": "stories260K.bin", "tokens": "stories260K_tokens.bin",
        "config": json.dumps(cfg.to_json()),
        "description": "eval: n = floor((len-1)/S) windows x=t[iS:(i+1)S], y=t[iS+1:(i+1)S+1]"})


def make_dtypes(out):
    """value i (row-major) of each tensor: floats (i - 3) / 2 (exact in every float type),
    signed ints i - 3, unsigned ints and BOOL as noted; shapes as noted."""
    f = lambda n: (np.arange(n) - 3) / 2  # noqa: E731
    bf16 = f(6).astype(np.float32).view(np.uint32) >> 16
    t = {
        "f64": f(6).astype(np.float64).reshape(2, 3),
        "f32": f(6).astype(np.float32).reshape(3, 2),
        "f16": f(6).astype(np.float16).reshape(6),
        "bf16": st.Raw("BF16", [2, 3], bf16.astype("<u2").tobytes()),
        "i64": (np.arange(5) - 3).astype(np.int64) * 1_000_000_007,
        "i32": (np.arange(7) - 3).astype(np.int32).reshape(7, 1),
        "i16": (np.arange(3) - 3).astype(np.int16),
        "i8": (np.arange(4) - 3).astype(np.int8),
        "u16": (np.arange(9) * 7000).astype(np.uint16).reshape(3, 3),  # i * 7000
        "u8": (np.arange(5) * 60).astype(np.uint8),  # i * 60
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, np.float32),  # shape []
        "empty": np.zeros((0, 4), np.float32),
    }
    st.save(os.path.join(out, "model_tiny_dtypes.safetensors"), t,
            {"writer": "tools/safetensors_io.py", "unicode": "ünï ✓"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "fixtures"))
    ap.add_argument("--only", default="tiny,15m,260k,dtypes")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    for k in a.only.split(","):
        t0 = time.time()
        {"tiny": make_tiny, "15m": make_15m, "260k": make_260k, "dtypes": make_dtypes}[k](a.out)
        print(f"{k}: {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
