#!/usr/bin/env python3
"""
Reference fixture for `export` (tests/io/export_test.ts): an independent numpy/torch
reimplementation of llama2.c export.py's version-2 (Q8_0) layout and of its Hugging Face
export (tensor names, shapes, and the q/k row permutation), for two tiny models (tied and
untied classifier). The fixture stores per-section SHA-256 digests and a few values, so it
stays small while any layout or rounding difference fails the test.

Parameters come from a formula both sides compute exactly: real element j (export order,
no padding) is float32(((bitsAt(seed, j) & 0xffff) - 32768) / 32768 * 0.05), where bitsAt
is src/util/rng.ts's lowbias32 stream. A few values are planted: exact rounding ties in
wq[0]'s first group (torch.round rounds half to even) and an all-zero group in w2[1].

Run: /usr/bin/python3 tools/export_reference.py  (writes tests/fixtures/export_reference.json)
"""
import hashlib
import json
import os
import struct

import numpy as np
import torch

M32 = 0xFFFFFFFF


def hash32(x):
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def stream(seed, n):
    """bitsAt(seed, j) for j < n, vectorised: hash32((hash32(seed) + j) mod 2^32)."""
    x = (np.arange(n, dtype=np.uint64) + hash32(seed)) & M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def hidden_dim(dim, multiple_of):
    h = int(2 * 4 * dim / 3)
    return multiple_of * ((h + multiple_of - 1) // multiple_of)


def make_model(cfg, seed):
    """Per-tensor float32 arrays, stacked over layers, in llama2.c export order."""
    C, L, NH, NKV, V = cfg["dim"], cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"], cfg["vocab_size"]
    H, KV = cfg["hidden_dim"], NKV * (C // NH)
    spec = [
        ("tok_embeddings", (V, C), 1), ("rms_att", (C,), L), ("wq", (C, C), L), ("wk", (KV, C), L),
        ("wv", (KV, C), L), ("wo", (C, C), L), ("rms_ffn", (C,), L), ("w1", (H, C), L),
        ("w2", (C, H), L), ("w3", (H, C), L), ("rms_final", (C,), 1),
    ]
    if not cfg["shared_classifier"]:
        spec.append(("wcls", (V, C), 1))
    total = sum(int(np.prod(s)) * n for _, s, n in spec)
    bits = stream(seed, total)
    vals = (((bits & 0xFFFF).astype(np.float64) - 32768.0) / 32768.0 * 0.05).astype(np.float32)
    out, at = {}, 0
    for name, shape, n in spec:
        k = int(np.prod(shape)) * n
        out[name] = vals[at:at + k].reshape((n,) + shape).copy()
        at += k
    # planted values
    out["wq"][0].reshape(-1)[:7] = np.array([127, 2.5, -3.5, 0.5, 1.5, -0.5, -2.5], np.float32)
    gs = q80_group_size(C)
    out["w2"][L - 1].reshape(-1)[:gs] = 0.0
    return out


def q80_group_size(dim):
    gs = 64
    while dim % gs != 0:
        gs //= 2
    return gs


def q80(w, gs):
    """Symmetric int8 per group: scale = max|w| / 127, q = round_half_even(w / scale)."""
    g = torch.from_numpy(w.reshape(-1, gs).astype(np.float32))
    scale = g.abs().max(dim=1).values / 127.0
    with np.errstate(all="ignore"):
        ratio = g / scale[:, None]
    ratio = torch.nan_to_num(ratio, nan=0.0)  # all-zero groups: 0/0 -> q = 0
    q = torch.round(ratio).to(torch.int8)
    err = (q.float() * scale[:, None] - g).abs().max().item()
    return q.numpy().reshape(-1), scale.numpy().astype("<f4"), err


def sha(b):
    return hashlib.sha256(b).hexdigest()


def v2_reference(cfg, t):
    """The version-2 file and a per-section digest list."""
    C, L = cfg["dim"], cfg["n_layers"]
    gs = q80_group_size(C)
    header = struct.pack("<Ii", 0x616B3432, 2)
    header += struct.pack("<7i", C, cfg["hidden_dim"], L, cfg["n_heads"], cfg["n_kv_heads"],
                          cfg["vocab_size"], cfg["max_seq_len"])
    header += struct.pack("<B", int(cfg["shared_classifier"])) + struct.pack("<i", gs)
    header += b"\0" * (256 - len(header))
    sections = [("header", header)]
    norms = b"".join(t[n].astype("<f4").tobytes() for n in ("rms_att", "rms_ffn", "rms_final"))
    sections.append(("norms", norms))
    names = ["tok_embeddings", "wq", "wk", "wv", "wo", "w1", "w2", "w3"]
    if not cfg["shared_classifier"]:
        names.append("wcls")
    maxerr = 0.0
    planted = {}
    for n in names:
        for l in range(t[n].shape[0]):
            q, s, err = q80(t[n][l], gs)
            maxerr = max(maxerr, err)
            sections.append((f"{n}[{l}].q", q.astype(np.int8).tobytes()))
            sections.append((f"{n}[{l}].s", s.tobytes()))
            if n == "wq" and l == 0:
                planted["wq0_q_first8"] = q[:8].tolist()
                planted["wq0_s_first"] = float(s[0])
            if n == "w2" and l == L - 1:
                planted["w2_last_q_first8"] = q[:8].tolist()
                planted["w2_last_s_first"] = float(s[0])
    whole = b"".join(b for _, b in sections)
    return {
        "group_size": gs,
        "bytes": len(whole),
        "sha256": sha(whole),
        "max_error": maxerr,
        "sections": [[name, len(b), sha(b)] for name, b in sections],
        "planted": planted,
    }


def permute_rows(w, heads):
    """llama2.c interleaved RoPE pairs -> HF rotate_half order, per head (a reimplementation)."""
    rows, cols = w.shape
    hs = rows // heads
    x = torch.from_numpy(w).view(heads, hs // 2, 2, cols)  # row = h*hs + 2i + a
    return x.permute(0, 2, 1, 3).reshape(rows, cols).contiguous().numpy()  # h*hs + a*hs/2 + i


def hf_reference(cfg, t):
    C, L, NH, NKV = cfg["dim"], cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"]
    sd = {"model.embed_tokens.weight": t["tok_embeddings"][0]}
    for l in range(L):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = t["rms_att"][l]
        sd[p + "self_attn.q_proj.weight"] = permute_rows(t["wq"][l], NH)
        sd[p + "self_attn.k_proj.weight"] = permute_rows(t["wk"][l], NKV)
        sd[p + "self_attn.v_proj.weight"] = t["wv"][l]
        sd[p + "self_attn.o_proj.weight"] = t["wo"][l]
        sd[p + "post_attention_layernorm.weight"] = t["rms_ffn"][l]
        sd[p + "mlp.gate_proj.weight"] = t["w1"][l]
        sd[p + "mlp.down_proj.weight"] = t["w2"][l]
        sd[p + "mlp.up_proj.weight"] = t["w3"][l]
    sd["model.norm.weight"] = t["rms_final"][0]
    if not cfg["shared_classifier"]:
        sd["lm_head.weight"] = t["wcls"][0]
    return {
        "tensors": {k: {"shape": list(v.shape), "sha256": sha(np.ascontiguousarray(v, "<f4").tobytes())}
                    for k, v in sd.items()},
        "q_proj0_row1_first4": sd["model.layers.0.self_attn.q_proj.weight"][1][:4].tolist(),
        "config": {
            "vocab_size": cfg["vocab_size"], "hidden_size": C, "intermediate_size": cfg["hidden_dim"],
            "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
            "max_position_embeddings": cfg["max_seq_len"], "rms_norm_eps": 1e-5,
            "tie_word_embeddings": cfg["shared_classifier"], "hidden_act": "silu",
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        },
    }


def main():
    models = []
    for seed, shared, C, NH, NKV in [(11, True, 32, 4, 2), (12, False, 48, 6, 3)]:
        cfg = {"dim": C, "n_layers": 2, "n_heads": NH, "n_kv_heads": NKV, "vocab_size": 64,
               "multiple_of": 32, "max_seq_len": 16, "shared_classifier": shared}
        cfg["hidden_dim"] = hidden_dim(C, 32)
        t = make_model(cfg, seed)
        models.append({"seed": seed, "config": cfg, "v2": v2_reference(cfg, t), "hf": hf_reference(cfg, t)})
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "export_reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"generator": "tools/export_reference.py", "torch": torch.__version__, "models": models},
                  f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
