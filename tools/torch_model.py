"""PyTorch reference for babyllama: llama2.c's model.py Transformer written out functionally
(float32; torch 1.13, so attention is written by hand), the counter-based RNG of
src/util/rng.ts and the initialisation of src/model/init.ts, vectorised, and loaders from
our flat parameter layout (src/model/tensors.ts) and from llama2.c legacy v0 / version 1 files.

Parameters are a dict {name: tensor} with llama2.c names; per-layer tensors are stacked over
layers ([L, *shape]), which is our flat layout minus the 64-float padding between layer slices.
The classifier is tied (logits = h @ tok_embeddings^T) unless the config says otherwise, in
which case "wcls" exists.

Run with /usr/bin/python3 (torch 1.13). Used by tools/make_model_fixtures.py; never at run time.
"""
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

MASK32 = 0xFFFFFFFF
ALIGN_FLOATS = 64


# ----------------------------------------------------------------------------------------------
# config and tensor table (mirrors src/model/config.ts and src/model/tensors.ts)

def default_hidden_dim(dim, multiple_of):
    h = int(2 * 4 * dim / 3)
    return multiple_of * ((h + multiple_of - 1) // multiple_of)


@dataclass
class Config:
    dim: int = 288
    n_layers: int = 6
    n_heads: int = 6
    n_kv_heads: int = 6
    vocab_size: int = 32000
    hidden_dim: int = 0  # 0: derived from dim and multiple_of as model.py
    multiple_of: int = 32
    max_seq_len: int = 256
    dropout: float = 0.0
    norm_eps: float = 1e-5
    shared_classifier: bool = True

    def __post_init__(self):
        if not self.hidden_dim:
            self.hidden_dim = default_hidden_dim(self.dim, self.multiple_of)
        assert self.dim % self.n_heads == 0 and self.n_heads % self.n_kv_heads == 0
        assert (self.dim // self.n_heads) % 2 == 0

    @property
    def head_size(self):
        return self.dim // self.n_heads

    @property
    def kv_dim(self):
        return self.n_kv_heads * self.head_size

    def to_json(self):
        return {k: getattr(self, k) for k in (
            "dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "hidden_dim",
            "multiple_of", "max_seq_len", "dropout", "norm_eps", "shared_classifier")}


@dataclass
class Entry:
    name: str
    shape: list  # one layer's shape
    layers: int
    decay: bool
    init: tuple  # ("normal", std) or ("ones",)
    layer_numel: int = 0
    layer_stride: int = 0
    offset: int = 0
    numel: int = 0
    full_shape: list = field(default_factory=list)  # [L, *shape] or shape


def tensor_table(cfg):
    """(entries in llama2.c export order, flat size) exactly as src/model/tensors.ts."""
    C, L, H, V, KV = cfg.dim, cfg.n_layers, cfg.hidden_dim, cfg.vocab_size, cfg.kv_dim
    std, proj = 0.02, 0.02 / math.sqrt(2 * L)
    spec = [
        ("tok_embeddings", [V, C], 1, True, ("normal", std)),
        ("rms_att", [C], L, False, ("ones",)),
        ("wq", [C, C], L, True, ("normal", std)),
        ("wk", [KV, C], L, True, ("normal", std)),
        ("wv", [KV, C], L, True, ("normal", std)),
        ("wo", [C, C], L, True, ("normal", proj)),
        ("rms_ffn", [C], L, False, ("ones",)),
        ("w1", [H, C], L, True, ("normal", std)),
        ("w2", [C, H], L, True, ("normal", std)),
        ("w3", [H, C], L, True, ("normal", proj)),
        ("rms_final", [C], 1, False, ("ones",)),
    ]
    if not cfg.shared_classifier:
        spec.append(("wcls", [V, C], 1, True, ("normal", std)))
    entries, off = [], 0
    for name, shape, layers, decay, init in spec:
        n = int(np.prod(shape))
        stride = (n + ALIGN_FLOATS - 1) // ALIGN_FLOATS * ALIGN_FLOATS
        full = ([layers] + shape) if name not in ("tok_embeddings", "rms_final", "wcls") else shape
        entries.append(Entry(name, shape, layers, decay, init, n, stride, off, layers * n, full))
        off += layers * stride
    return entries, off


# ----------------------------------------------------------------------------------------------
# counter-based RNG (src/util/rng.ts), vectorised over int64 tensors holding uint32 values

def _mul32(x, c):
    """(x * c) mod 2^32 for uint32 x (int64 tensor) and a uint32 constant, without overflow."""
    lo, hi = x & 0xFFFF, x >> 16
    return ((lo * c) + (((hi * c) & 0xFFFF) << 16)) & MASK32


def hash32(x):
    """lowbias32 on an int64 tensor of uint32 values."""
    x = x & MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    x = x ^ (x >> 16)
    return x


def hash32_int(x):
    return int(hash32(torch.tensor([x], dtype=torch.int64))[0])


def bits_at(seed, i):
    """Elements i (int64 tensor, 0 <= i < 2^32) of the uint32 stream keyed by seed."""
    return hash32((hash32_int(seed) + i) & MASK32)


def normal_at(seed, i):
    """Standard normals i (int64 tensor) of stream seed, float64 (Box-Muller as rng.ts)."""
    a = bits_at(seed, 2 * i).double()
    b = bits_at(seed, 2 * i + 1).double()
    u1 = (a + 1) / 4294967296.0
    u2 = b / 4294967296.0
    return torch.sqrt(-2 * torch.log(u1)) * torch.cos((2 * math.pi) * u2)


def init_params(cfg, seed, chunk=1 << 22):
    """src/model/init.ts's initParams as stacked tensors: real element j (counting every
    parameter in export order, norms included) is float32(normal_at(seed, j) * std)."""
    entries, _ = tensor_table(cfg)
    params, j = {}, 0
    for e in entries:
        if e.init[0] == "ones":
            t = torch.ones(e.numel, dtype=torch.float32)
        else:
            t = torch.empty(e.numel, dtype=torch.float32)
            for s in range(0, e.numel, chunk):
                n = min(chunk, e.numel - s)
                idx = torch.arange(j + s, j + s + n, dtype=torch.int64)
                t[s:s + n] = (normal_at(seed, idx) * e.init[1]).float()
        j += e.numel
        params[e.name] = t.view(e.full_shape)
    return params


# ----------------------------------------------------------------------------------------------
# flat layout <-> stacked tensors

def params_from_flat(cfg, flat):
    """Stacked tensors from a flat float32 array in our padded layout."""
    flat = torch.as_tensor(np.asarray(flat, dtype=np.float32))
    entries, size = tensor_table(cfg)
    assert flat.numel() == size, (flat.numel(), size)
    out = {}
    for e in entries:
        rows = [flat[e.offset + l * e.layer_stride:e.offset + l * e.layer_stride + e.layer_numel]
                for l in range(e.layers)]
        out[e.name] = torch.cat(rows).view(e.full_shape).clone()
    return out


def params_to_flat(cfg, params):
    """Our padded flat layout (padding zero) from stacked tensors (float32 numpy)."""
    entries, size = tensor_table(cfg)
    flat = np.zeros(size, dtype=np.float32)
    for e in entries:
        t = params[e.name].detach().reshape(e.layers, e.layer_numel).numpy()
        for l in range(e.layers):
            o = e.offset + l * e.layer_stride
            flat[o:o + e.layer_numel] = t[l]
    return flat


# ----------------------------------------------------------------------------------------------
# llama2.c .bin files, read independently of the TypeScript reader

_V0_ORDER = ["tok_embeddings", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3",
             "rms_final"]
_V1_ORDER = ["rms_att", "rms_ffn", "rms_final", "tok_embeddings", "wq", "wk", "wv", "wo", "w1",
             "w2", "w3"]


def load_llama2c(path):
    """(Config, stacked params) from a llama2.c legacy v0 or version 1 float32 file."""
    with open(path, "rb") as f:
        b = f.read()
    if struct.unpack("<I", b[:4])[0] == 0x616B3432:
        assert struct.unpack("<i", b[4:8])[0] == 1
        dim, hid, L, nh, nkv, V, T = struct.unpack("<7i", b[8:36])
        shared, start, order = b[36] == 1, 256, _V1_ORDER
    else:
        dim, hid, L, nh, nkv, V, T = struct.unpack("<7i", b[:28])
        shared, V, start, order = V > 0, abs(V), 28, _V0_ORDER
    cfg = Config(dim=dim, hidden_dim=hid, n_layers=L, n_heads=nh, n_kv_heads=nkv, vocab_size=V,
                 max_seq_len=T, shared_classifier=shared)
    data = np.frombuffer(b, dtype="<f4", offset=start)
    entries = {e.name: e for e in tensor_table(cfg)[0]}
    params, pos = {}, 0
    for name in order:
        e = entries[name]
        params[name] = torch.from_numpy(data[pos:pos + e.numel].copy()).view(e.full_shape)
        pos += e.numel
    if order is _V0_ORDER:
        pos += T * cfg.head_size  # freqs_cos, freqs_sin
    if not shared:
        e = entries["wcls"]
        params["wcls"] = torch.from_numpy(data[pos:pos + e.numel].copy()).view(e.full_shape)
        pos += e.numel
    assert pos == data.size, (pos, data.size)
    return cfg, params


# ----------------------------------------------------------------------------------------------
# the model (model.py's Transformer, functional)

def rope_tables(head_size, seq_len, theta=10000.0):
    """model.py's precompute_freqs_cis: cos and sin of t * theta^(-2i/HS), each [T, HS/2]."""
    expo = torch.arange(0, head_size, 2)[: head_size // 2].float() / head_size
    freqs = 1.0 / (theta ** expo)
    ang = torch.outer(torch.arange(seq_len), freqs).float()
    return torch.cos(ang), torch.sin(ang)


def rmsnorm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def apply_rope(x, cos, sin):
    """Rotates consecutive pairs (x[2i], x[2i+1]) of the last dim by the angles of position t.
    x: [B, T, heads, HS]; cos, sin: [T, HS/2]."""
    xr, xi = x.reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([xr * c - xi * s, xr * s + xi * c], dim=-1).flatten(3)


def repeat_kv(x, n_rep):
    """[B, T, NKV, HS] -> [B, T, NKV * n_rep, HS], each KV head repeated for its query heads."""
    if n_rep == 1:
        return x
    B, T, nkv, hs = x.shape
    return x[:, :, :, None, :].expand(B, T, nkv, n_rep, hs).reshape(B, T, nkv * n_rep, hs)


def forward(cfg, p, tokens, targets=None):
    """Logits [B, T, V] and (when targets are given) the mean cross-entropy over targets != -1."""
    B, T = tokens.shape
    C, NH, NKV, HS = cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_size
    cos, sin = rope_tables(HS, cfg.max_seq_len)
    cos, sin = cos[:T].to(tokens.device), sin[:T].to(tokens.device)
    mask = torch.triu(torch.full((T, T), float("-inf"), device=tokens.device), diagonal=1)
    h = p["tok_embeddings"][tokens]
    for l in range(cfg.n_layers):
        x = rmsnorm(h, p["rms_att"][l], cfg.norm_eps)
        q = (x @ p["wq"][l].t()).view(B, T, NH, HS)
        k = (x @ p["wk"][l].t()).view(B, T, NKV, HS)
        v = (x @ p["wv"][l].t()).view(B, T, NKV, HS)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, NH, T, HS]
        att = (q @ k.transpose(2, 3)) / math.sqrt(HS) + mask
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        h = h + y @ p["wo"][l].t()
        x = rmsnorm(h, p["rms_ffn"][l], cfg.norm_eps)
        ff = (F.silu(x @ p["w1"][l].t()) * (x @ p["w3"][l].t())) @ p["w2"][l].t()
        h = h + ff
    h = rmsnorm(h, p["rms_final"], cfg.norm_eps)
    wcls = p["tok_embeddings"] if cfg.shared_classifier else p["wcls"]
    logits = h @ wcls.t()
    loss = None
    if targets is not None:
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
    return logits, loss


def make_leaves(params):
    """Fresh float32 leaf tensors with requires_grad, in export order."""
    return {k: v.detach().clone().float().requires_grad_(True) for k, v in params.items()}


def make_adamw(cfg, leaves, lr, betas, eps, weight_decay):
    """torch.optim.AdamW with train.py's groups: decay on 2-D weights (the table's decay flag,
    since our per-layer tensors are stacked), none on the RMSNorm weights."""
    entries, _ = tensor_table(cfg)
    decay = [leaves[e.name] for e in entries if e.decay]
    nodecay = [leaves[e.name] for e in entries if not e.decay]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": nodecay, "weight_decay": 0.0}],
        lr=lr, betas=betas, eps=eps)
