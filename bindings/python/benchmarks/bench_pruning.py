"""Pruning benchmark: swiftcompress vs NNI 3.0 vs torch.nn.utils.prune vs cloning the weights.

    python bindings/python/benchmarks/bench_pruning.py [--runs 7] [--out bench_pruning.png] [--no-memory]

Models: torchvision ResNet-50 (weights=None, seed 0) and a transformer encoder (`TextTransformer`:
Embedding(1000, 512), a 6-layer TransformerEncoder with d_model 512, 8 heads, feed-forward 2048,
Linear(512, 10)). Cases: LevelPruner 0.8 per target,
LevelPruner 0.8 in one global group, L1NormPruner 0.5 (out_channel), FPGMPruner 0.5, on every Conv2d
and Linear weight. NNI's global case is skipped unless --nni-global: NNI 3.0 ranks a global group with
a Python heap walk over every metric value (`_global_threshold_generate`), minutes for ResNet-50.

Time: "end to end from the Python call to masks ready": `Pruner(model, config_list).compress()`
(construction, wrapping and mask generation; unwrapping is not timed), median of --runs runs
(swiftcompress and clone alternate run by run; NNI and torch.nn.utils.prune: --slow-runs runs). torch.nn.utils.prune does what it has for each
case (l1_unstructured, global_unstructured, ln_structured n=1; no FPGM) on a fresh deep copy per
run (the copy is not timed). NNI and torch.nn.utils.prune get no warm-up run, and NNI's FPGM one
run (minutes on ResNet-50). "clone" clones every target weight (`p.detach().clone()`): what
producing one new tensor per weight costs at least, and what NNI does before it ranks.

Memory: growth of the peak resident set while compressing, each method in a fresh subprocess: the
model is built, the kernel's peak-RSS mark is reset (`echo 5 > /proc/self/clear_refs`), the method
runs once, and the growth is VmHWM (peak) minus VmRSS (before). tracemalloc does not see torch's
allocations, and within one process freed blocks would be reused, hence the subprocesses. The table
gives it in MiB and as a multiple of the size of the masks (the target weights' bytes).

Prints a markdown table and writes a PNG bar chart (matplotlib; installed with pip into the running
interpreter's environment when missing).
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

CASES = {
    "level 0.8 per target": ("LevelPruner", [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.8}]),
    "level 0.8 global": ("LevelPruner", [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.8,
                                          "global_group_id": "all"}]),
    "L1 0.5 out_channel": ("L1NormPruner", [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]),
    "FPGM 0.5 out_channel": ("FPGMPruner", [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]),
}
METHODS = ["swiftcompress", "nni", "torch.prune", "clone"]


class TextTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 512)
        layer = nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        self.head = nn.Linear(512, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "resnet50":
        import torchvision

        return torchvision.models.resnet50(weights=None).eval()
    if name == "transformer":
        return TextTransformer().eval()
    raise KeyError(name)


def target_weights(model: nn.Module) -> List[torch.Tensor]:
    return [m.weight for m in model.modules() if type(m).__name__ in ("Conv2d", "Linear")]


def run_once(method: str, case: str, model: nn.Module) -> Optional[Callable[[], None]]:
    """Runs one method once on `model`; returns a cleanup to call after the timing (or None)."""
    pruner_name, config_list = CASES[case]
    if method == "swiftcompress":
        import swiftcompress.pruning as sc

        pruner = getattr(sc, pruner_name)(model, config_list)
        pruner.compress()
        return pruner.unwrap_model
    if method == "nni":
        import nni.compression.pruning as nni_pruning

        pruner = getattr(nni_pruning, pruner_name)(model, copy.deepcopy(config_list))
        pruner.compress()
        return pruner.unwrap_model
    if method == "clone":
        clones = [w.detach().clone() for w in target_weights(model)]
        return clones.clear
    if method == "torch.prune":
        import torch.nn.utils.prune as prune

        modules = [m for m in model.modules() if type(m).__name__ in ("Conv2d", "Linear")]
        if case == "level 0.8 per target":
            for m in modules:
                prune.l1_unstructured(m, "weight", amount=0.8)
        elif case == "level 0.8 global":
            prune.global_unstructured([(m, "weight") for m in modules], pruning_method=prune.L1Unstructured,
                                      amount=0.8)
        elif case == "L1 0.5 out_channel":
            for m in modules:
                prune.ln_structured(m, "weight", amount=0.5, n=1, dim=0)
        else:
            raise NotImplementedError(case)
        return None
    raise KeyError(method)


def supported(method: str, case: str, nni_global: bool) -> bool:
    if method == "torch.prune" and case.startswith("FPGM"):
        return False  # torch.nn.utils.prune has no FPGM
    if method == "nni" and "global" in case and not nni_global:
        return False  # NNI ranks a global group in a Python loop over every value: run with --nni-global
    return True


def time_method(method: str, case: str, base: nn.Module, runs: int) -> float:
    """Median wall time. Between runs (not timed) every output of the previous run is freed, for
    every method alike, so each run allocates its results from the same allocator state."""
    times = []
    for _ in range(runs):
        model = copy.deepcopy(base) if method == "torch.prune" else base
        gc.collect()
        t0 = time.perf_counter()
        cleanup = run_once(method, case, model)
        times.append(time.perf_counter() - t0)
        if cleanup is not None:
            cleanup()
        del cleanup, model
    gc.collect()
    return statistics.median(times)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_child(model_name: str, case: str, method: str) -> None:
    """In a subprocess: prints JSON {"growth_bytes", "mask_bytes"} for one run of one method."""
    torch.set_num_threads(torch.get_num_threads())
    model = build(model_name)
    if method == "swiftcompress":
        import swiftcompress.pruning  # noqa: F401 (import outside the measurement)
    elif method == "nni":
        import nni.compression.pruning  # noqa: F401
    mask_bytes = sum(w.numel() * w.element_size() for w in target_weights(model))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    run_once(method, case, model)
    peak = _status_kib("VmHWM")
    print(json.dumps({"growth_bytes": (peak - before) * 1024, "mask_bytes": mask_bytes}))


def measure_memory(model_name: str, case: str, method: str) -> Dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--memory-child", model_name, case, method],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is missing: installing it with pip into this environment", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(results, path: str) -> None:
    plt = ensure_matplotlib()
    models = sorted({r["model"] for r in results})
    fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 4.8), squeeze=False)
    colors = {"swiftcompress": "#d95f02", "nni": "#7570b3", "torch.prune": "#1b9e77", "clone": "#999999"}
    for ax, model in zip(axes[0], models):
        rows = [r for r in results if r["model"] == model]
        cases = list(dict.fromkeys(r["case"] for r in rows))
        width = 0.8 / len(METHODS)
        for k, method in enumerate(METHODS):
            xs, ys = [], []
            for i, case in enumerate(cases):
                for r in rows:
                    if r["case"] == case and r["method"] == method and r["seconds"] is not None:
                        xs.append(i + (k - (len(METHODS) - 1) / 2) * width)
                        ys.append(r["seconds"] * 1000)
            ax.bar(xs, ys, width=width, label=method, color=colors[method])
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=15, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("median time, ms (log scale)")
        ax.set_title(model)
        ax.legend(fontsize=8)
    fig.suptitle("Pruning, end to end: Pruner(model, config_list).compress()")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nplot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per fast method (NNI and torch.prune: fewer)")
    parser.add_argument("--slow-runs", type=int, default=3, help="runs for NNI and torch.nn.utils.prune")
    parser.add_argument("--models", default="resnet50,transformer")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", default="bench_pruning.png", help="the PNG plot")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-cases", default="level 0.8 per target,level 0.8 global",
                        help="the cases whose peak memory is measured (one subprocess per method)")
    parser.add_argument("--nni-global", action="store_true",
                        help="also time NNI on the global case (a Python heap walk over every weight: minutes)")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    import nni
    import swiftcompress

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), nni {nni.__version__}, "
          f"swiftcompress {swiftcompress.__version__}, {os.cpu_count()} CPUs\n")
    results = []
    for model_name in args.models.split(","):
        base = build(model_name)
        weights = target_weights(base)
        print(f"{model_name}: {len(weights)} Conv2d/Linear weights, {sum(w.numel() for w in weights):,} values")
        for case in args.cases.split(","):
            # swiftcompress and clone alternate run by run (A B A B ...), so that a burst of load from
            # elsewhere on the machine hits both; NNI and torch.nn.utils.prune (slow) run after.
            fast = ["swiftcompress", "clone"]
            for method in fast:
                time_method(method, case, base, 1)  # warm-up (first use of the library, page faults)
            samples: Dict[str, List[float]] = {m: [] for m in fast}
            for _ in range(args.runs):
                for method in fast:
                    samples[method].append(time_method(method, case, base, 1))
            for method in METHODS:
                if not supported(method, case, args.nni_global):
                    results.append({"model": model_name, "case": case, "method": method, "seconds": None})
                    continue
                if method in samples:
                    runs, seconds = args.runs, statistics.median(samples[method])
                else:
                    runs = 1 if case.startswith("FPGM") else args.slow_runs
                    seconds = time_method(method, case, base, runs)
                row = {"model": model_name, "case": case, "method": method, "seconds": seconds, "runs": runs}
                if not args.no_memory and case in args.memory_cases.split(","):
                    row.update(measure_memory(model_name, case, method))
                results.append(row)
                print(f"  {case:22s} {method:14s} {seconds * 1000:10.1f} ms  (median of {runs})", flush=True)

    def find(model, case, method):
        return next(r for r in results if r["model"] == model and r["case"] == case and r["method"] == method)

    print("\n| model | case | swiftcompress | NNI 3.0 | torch.nn.utils.prune | clone weights | NNI / swiftcompress "
          "| swiftcompress / clone | peak growth swiftcompress (x masks) | peak growth NNI (x masks) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model_name in args.models.split(","):
        for case in args.cases.split(","):
            sc, nn_, tp, cl = (find(model_name, case, m) for m in METHODS)

            def ms(r):
                return "n/a" if r["seconds"] is None else f"{r['seconds'] * 1000:.1f} ms"

            def mem(r):
                if "growth_bytes" not in r:
                    return "-"
                return f"{r['growth_bytes'] / 2**20:.0f} MiB ({r['growth_bytes'] / r['mask_bytes']:.2f}x)"

            speedup = "n/a" if nn_["seconds"] is None else f"{nn_['seconds'] / sc['seconds']:.1f}x"
            print(f"| {model_name} | {case} | {ms(sc)} | {ms(nn_)} | {ms(tp)} | {ms(cl)} | "
                  f"{speedup} | {sc['seconds'] / cl['seconds']:.2f}x | {mem(sc)} | {mem(nn_)} |")
    plot(results, args.out)


if __name__ == "__main__":
    main()
