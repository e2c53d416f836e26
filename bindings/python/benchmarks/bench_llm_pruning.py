"""LLM-scale pruning benchmark (issue 15): 16-bit and 32-bit weights, per target and one global group.

    PYTHONPATH=bindings/python python bindings/python/benchmarks/bench_llm_pruning.py [--layers 1] [--runs 15]
        [--torch-runs 3] [--dtypes bfloat16,float32] [--nm] [--no-memory]

Model: a Llama-shaped stack of bias-free Linear layers, per layer q/o [2048, 2048], k/v (grouped,
kv 256) [256, 2048], gate/up [5632, 2048], down [2048, 5632]: 44,040,192 weights a layer (the issue
measured 4 layers, 176 M; --layers scales it down so the whole run stays under 2 minutes on a
2-core machine). Deterministic weights (torch.manual_seed(0), randn * 0.02).

Per dtype, per case (LevelPruner 0.5 per target; LevelPruner 0.5 in one global group; with --nm
also mask_structure '2:4'), alternating run by run so that all see the same load:
- swiftcompress: the first ``pruner.compress()`` of a pruner built outside the timing, a fresh one
  each run (mask allocation with ``torch.empty_like`` and the core's masks; no earlier masks freed
  inside the timing);
- clone: ``w.detach().clone()`` of every target weight (one new tensor per weight: the least any
  method that returns masks must pay);
- torch: the same cut in torch itself, per target ``a = w.abs(); t = a.flatten().kthvalue(k);
  mask = (a > t)`` converted to the weight's dtype, and for the global group ``torch.cat`` of every
  ``|w|`` then one kthvalue (kthvalue keeps ties on the kept side, so it is a lower bound on what
  an exact mask costs in torch); where kthvalue has no kernel for the dtype, topk(largest=False).
The torch cut (20-50x the clone) runs in the first --torch-runs runs only. Every large allocation gets fresh pages (the script re-executes itself with
MALLOC_MMAP_THRESHOLD_=131072: otherwise glibc reuses freed blocks of up to 32 MiB without page
faults and the clone baseline of bfloat16 weights swings between 6 and 90 ms), and no spinning
OpenMP thread of one method's torch ops slows the next method (OMP_WAIT_POLICY=PASSIVE). Prints medians (ms),
their ratio to clone, and "paired": the median over runs of ours / clone of the same run (the two
are timed back to back, so a slow phase of a shared machine slows both; the ratio of medians can
pair a fast clone with a slow run of ours). Memory (unless --no-memory): growth of the peak resident
set during the first compress() of a fresh pruner, in a fresh subprocess per case (VmHWM after
minus VmRSS before, the peak mark reset with ``echo 5 > /proc/self/clear_refs``; freed memory of
earlier runs in the same process would be reused and hide the growth), as a multiple of the
masks' bytes (the masks are part of the growth: 1.00x is no memory beyond them).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

import torch
import torch.nn as nn

from swiftcompress.pruning import LevelPruner

SHAPES = {"q": (2048, 2048), "k": (256, 2048), "v": (256, 2048), "o": (2048, 2048),
          "gate": (5632, 2048), "up": (5632, 2048), "down": (2048, 5632)}


class Layer(nn.Module):
    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        for name, (out_f, in_f) in SHAPES.items():
            lin = nn.Linear(in_f, out_f, bias=False, device="meta")
            lin.weight = nn.Parameter(torch.randn(out_f, in_f).mul_(0.02).to(dtype), requires_grad=False)
            setattr(self, name, lin)


def model(layers: int, dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(*[Layer(dtype) for _ in range(layers)])


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    del out
    return dt * 1000


def torch_cut(weights: List[torch.Tensor], global_group: bool) -> Callable[[], object]:
    def kth(a: torch.Tensor, k: int) -> torch.Tensor:
        try:
            return a.kthvalue(k).values
        except RuntimeError:  # no CPU kernel for this dtype
            return a.topk(k, largest=False).values.max()

    def per_target() -> object:
        out = []
        for w in weights:
            a = w.detach().abs()
            t = kth(a.flatten(), max(1, a.numel() // 2))
            out.append((a > t).to(w.dtype))
        return out

    def global_cut() -> object:
        flat = torch.cat([w.detach().abs().flatten() for w in weights])
        t = kth(flat, max(1, flat.numel() // 2))
        return [(w.detach().abs() > t).to(w.dtype) for w in weights]
    return global_cut if global_group else per_target


def peak_growth(fn: Callable[[], object]) -> int:
    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        return 0
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return -1
    before = status("VmRSS:")
    out = fn()
    growth = status("VmHWM:") - before
    del out
    return growth


def memory_case(layers: int, dtype_name: str, config: List[dict]) -> float:
    """Run in a fresh process: peak growth of one compress() / the masks' bytes."""
    m = model(layers, getattr(torch, dtype_name))
    weights = [mod.weight for mod in m.modules() if isinstance(mod, nn.Linear)]
    mask_bytes = sum(w.numel() * w.element_size() for w in weights)
    pruner = LevelPruner(m, config)
    growth = peak_growth(lambda: pruner.compress()[1])
    return growth / mask_bytes if growth >= 0 else -1.0


def main() -> None:
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        # glibc's dynamic mmap threshold lets a freed block of up to 32 MiB be reused without page
        # faults, so a clone's cost would depend on what the previous run freed (a 23 MB bfloat16
        # weight is reused, a 46 MB float32 one is not). A fixed threshold gives every large tensor
        # (weights' clones and masks alike) fresh pages, as the first compress() of a model sees.
        # OMP_WAIT_POLICY=PASSIVE: after each parallel torch op (the torch cut) torch's OpenMP
        # threads spin for a while and take the cores from whatever runs next; measured here, the
        # clone of 88 MB of bfloat16 weights then takes 75-80 ms instead of 20-30 ms. Passive
        # threads give every method (the clone baseline included) the quiet machine.
        os.execve(sys.executable, [sys.executable] + sys.argv,
                  {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "OMP_WAIT_POLICY": "PASSIVE"})
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-case":
        print(memory_case(int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--torch-runs", type=int, default=3)
    ap.add_argument("--dtypes", default="bfloat16,float32")
    ap.add_argument("--nm", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    cases: Dict[str, List[dict]] = {
        "level 0.5 per target": [{"op_types": ["Linear"], "sparse_ratio": 0.5}],
        "level 0.5 global group": [{"op_types": ["Linear"], "sparse_ratio": 0.5, "global_group_id": "all"}],
    }
    if args.nm:
        cases["level 2:4"] = [{"op_types": ["Linear"], "mask_structure": "2:4"}]
    print(f"Llama-shaped stack, {args.layers} layer(s), {args.layers * 44040192:,} weights; medians of {args.runs} runs; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print("| dtype | case | swiftcompress ms | clone ms | torch cut ms | ours / clone | paired | torch / clone | peak growth / mask bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        m = model(args.layers, dtype)
        weights = [mod.weight for mod in m.modules() if isinstance(mod, nn.Linear)]
        for case, config in cases.items():
            warm = LevelPruner(m, config)
            warm.compress()  # warm-up (first calls into the library, page cache)
            warm.unwrap_model()
            del warm
            clone = lambda: [w.detach().clone() for w in weights]  # noqa: E731
            cut = torch_cut(weights, "global" in case) if "2:4" not in case else None
            ours_t, clone_t, torch_t = [], [], []
            for run in range(args.runs):
                clone_t.append(timed(clone))
                # A fresh pruner each run, built outside the timing: the timed compress() is its
                # first, as in a script, and frees no earlier masks (the clone frees its copies
                # after its timing too).
                pruner = LevelPruner(m, config)
                ours_t.append(timed(lambda: pruner.compress()[1]))
                pruner.unwrap_model()
                del pruner
                if cut is not None and run < args.torch_runs:
                    torch_t.append(timed(cut))
            growth = -1.0
            if not args.no_memory:
                out = subprocess.run([sys.executable, __file__, "--memory-case", str(args.layers), dtype_name, json.dumps(config)],
                                     capture_output=True, text=True)
                growth = float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else -1.0
            o, c = statistics.median(ours_t), statistics.median(clone_t)
            paired = statistics.median(a / b for a, b in zip(ours_t, clone_t))
            t = statistics.median(torch_t) if torch_t else float("nan")
            g = "-" if growth < 0 else f"{growth:.2f}x"
            print(f"| {dtype_name} | {case} | {o:.1f} | {c:.1f} | {t:.1f} | {o / c:.2f}x | {paired:.2f}x | {t / c:.2f}x | {g} |",
                  flush=True)
        del m, weights
        gc.collect()


if __name__ == "__main__":
    main()
