"""Writes tests/fixtures/rope.json: llama2.c model.py's RoPE tables and one application, from
PyTorch, for tests/ops/rope_test.ts.

Usage: /usr/bin/python3 tools/rope_fixture.py   (needs torch; CI uses the committed file)

Float32 arrays are stored little-endian, base64-encoded, so the test compares bit patterns.
"""
import base64
import json
import os

import torch


# Copied from llama2.c model.py (karpathy/llama2.c, MIT).
def precompute_freqs_cis(dim: int, end: int, theta: float = 10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=freqs.device)  # type: ignore
    freqs = torch.outer(t, freqs).float()  # type: ignore
    freqs_cos = torch.cos(freqs)  # real part
    freqs_sin = torch.sin(freqs)  # imaginary part
    return freqs_cos, freqs_sin


def reshape_for_broadcast(freqs_cis, x):
    ndim = x.ndim
    shape = [d if i == 1 or i == ndim - 1 else 1 for i, d in enumerate(x.shape)]
    return freqs_cis.view(shape)


def apply_rotary_emb(xq, freqs_cos, freqs_sin):
    xq_r, xq_i = xq.float().reshape(xq.shape[:-1] + (-1, 2)).unbind(-1)
    freqs_cos = reshape_for_broadcast(freqs_cos, xq_r)
    freqs_sin = reshape_for_broadcast(freqs_sin, xq_r)
    xq_out_r = xq_r * freqs_cos - xq_i * freqs_sin
    xq_out_i = xq_r * freqs_sin + xq_i * freqs_cos
    return torch.stack([xq_out_r, xq_out_i], dim=-1).flatten(3).type_as(xq)


def b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.detach().contiguous().float().numpy().astype("<f4").tobytes()).decode()


def main() -> None:
    torch.manual_seed(0)
    tables = []
    for hs, t, theta in [(6, 37, 10000.0), (10, 19, 10000.0), (48, 256, 10000.0), (8, 64, 500.0)]:
        cos, sin = precompute_freqs_cis(hs, t, theta)
        freqs = 1.0 / (theta ** (torch.arange(0, hs, 2)[: (hs // 2)].float() / hs))
        tables.append({"HS": hs, "T": t, "theta": theta, "freqs": b64(freqs), "cos": b64(cos),
                       "sin": b64(sin)})
    B, T, NH, HS = 2, 5, 3, 6
    cos, sin = precompute_freqs_cis(HS, T)
    x = torch.randn(B, T, NH, HS)
    dout = torch.randn(B, T, NH, HS)
    xr = x.clone().requires_grad_(True)
    out = apply_rotary_emb(xr, cos, sin)
    out.backward(dout)
    apply = {"B": B, "T": T, "NH": NH, "HS": HS, "inp": b64(x), "out": b64(out), "dout": b64(dout),
             "dinp": b64(xr.grad)}
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "tests", "fixtures", "rope.json")
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump({"torch": torch.__version__, "tables": tables, "apply": apply}, f)
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
