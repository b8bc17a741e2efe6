"""Writes tests/fixtures/adamw.json: three steps of torch.optim.AdamW with clip_grad_norm_ on
small seeded tensors (two parameter groups: with and without weight decay; sizes with
N % 4 != 0 and N % 4 == 0, which take the scalar and the vec4 kernel), for
tests/ops/adamw_test.ts.

Usage: /usr/bin/python3 tools/adamw_fixture.py   (needs torch; CI uses the committed file)

Float32 arrays are stored little-endian, base64-encoded.
"""
import base64
import json
import os

import torch


def b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.detach().contiguous().float().numpy().astype("<f4").tobytes()).decode()


def main() -> None:
    torch.manual_seed(1234)
    shapes = [(37,), (6, 12), (13,), (8,)]  # N % 4 != 0 and == 0: both kernels
    decay = [0.1, 0.1, 0.0, 0.0]
    params = [torch.nn.Parameter(torch.randn(*s) * 0.5) for s in shapes]
    init = [b64(p) for p in params]
    beta1, beta2, eps, clip = 0.9, 0.95, 1e-8, 1.0
    groups = [
        {"params": [p for p, wd in zip(params, decay) if wd > 0], "weight_decay": 0.1},
        {"params": [p for p, wd in zip(params, decay) if wd == 0], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(beta1, beta2), eps=eps)
    steps = []
    # Gradient scales: clipping active, inactive, active.
    for step, (lr, gscale) in enumerate([(1e-3, 1.0), (8e-4, 0.02), (5e-4, 3.0)], start=1):
        for g in opt.param_groups:
            g["lr"] = lr
        grads = [torch.randn(*s) * gscale for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        st = [opt.state[p] for p in params]
        steps.append({
            "step": step,
            "lr": lr,
            "grads": [b64(g) for g in grads],
            "norm": float(norm),
            "params": [b64(p) for p in params],
            "m": [b64(s["exp_avg"]) for s in st],
            "v": [b64(s["exp_avg_sq"]) for s in st],
        })
    out = {
        "torch": torch.__version__,
        "beta1": beta1,
        "beta2": beta2,
        "eps": eps,
        "clip": clip,
        "shapes": shapes,
        "weight_decay": decay,
        "init": init,
        "steps": steps,
    }
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "tests", "fixtures", "adamw.json")
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes); norms {[s['norm'] for s in steps]}")


if __name__ == "__main__":
    main()
