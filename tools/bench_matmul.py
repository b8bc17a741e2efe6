"""PyTorch reference timing for tools/bench_matmul.ts: the same matmuls on the CPU.

usage: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 tools/bench_matmul.py

out = inp @ weight.T (forward), dinp = dout @ weight, dweight += dout.T @ inp, f32, 2 threads,
N=2048 rows (N=256 for the 32000-wide classifier). Prints GFLOP/s (best of 5).
"""
import time

import torch

torch.set_num_threads(2)
for C, OC in [(288, 288), (288, 768), (768, 288), (288, 32000)]:
    N = 256 if OC > 4096 else 2048
    inp, w, dout = torch.randn(N, C), torch.randn(OC, C), torch.randn(N, OC)
    dw = torch.zeros(OC, C)
    cases = {
        "forward": lambda: inp @ w.T,
        "dinp": lambda: dout @ w,
        "dweight": lambda: dw.add_(dout.T @ inp),
    }
    for name, f in cases.items():
        f()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t0)
        print(f"torch {name:8s} N={N} C={C} OC={OC}: {2 * N * C * OC / best / 1e9:.1f} GFLOP/s")
