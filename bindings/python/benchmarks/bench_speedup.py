"""Automatic dependency groups + ModelSpeedup: swiftcompress vs NNI 3.0, and what speedup buys.

    python bindings/python/benchmarks/bench_speedup.py [--models resnet18,mobilenet_v2] [--all] [--runs 3]
                                                       [--no-nni] [--latency-runs 20] [--size 64]

Per model (torchvision, weights=None, seed 0, eval mode, BatchNorm statistics and affine parameters
randomized so that outputs have scale ~1; input 1x3xSIZExSIZE, 224 for vit_b_16, at least 96 for
inception_v3; "transformer_encoder": Embedding(1000, 256) + 2-layer nn.TransformerEncoder d_model 256,
4 heads, feed-forward 1024 + Linear(256, 10) on 1x16 token ids):

1. groups: ``auto_set_denpendency_group_ids(model, [{"op_types": ["Conv2d", "Linear"] (Linear only for the
   transformer), "sparse_ratio": 0.5}], x)`` — swiftcompress median of --runs, NNI one run (its tracer
   patched by tests/nni_examples/nni_patches.py). "same" says whether both give the same partition
   of modules into groups and the same internal_metric_block values.
2. L1NormPruner 0.5 with swiftcompress's config list (not timed).
3. speedup: ``ModelSpeedup(copy, x, masks).speedup_model()`` on a fresh deep copy each run —
   swiftcompress median of --runs, NNI one run (NNI's own ModelSpeedup, patched tracer).
4. params / FLOPs (swiftcompress count_flops_params, NNI's default-mode conventions) and CPU latency
   (median of --latency-runs forward passes, torch threads as set) before / after; "max err" is the
   shrunk model's max abs difference to the masked model (removed channels zeroed, see
   docs/speedup.md) relative to the output's max abs value.

Prints one markdown table; a failure prints its exception in the row.
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from swiftcompress.pruning import L1NormPruner  # noqa: E402
from swiftcompress.speedup import ModelSpeedup  # noqa: E402
from swiftcompress.utils import auto_set_denpendency_group_ids, count_flops_params  # noqa: E402
from test_speedup import masked_reference, randomize_norms  # noqa: E402

DEFAULT = ["resnet18", "mobilenet_v2", "resnet50", "mobilenet_v3_small"]
ISSUE = ["resnet18", "resnet50", "resnext50_32x4d", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
         "regnet_x_400mf", "shufflenet_v2_x0_5", "squeezenet1_0", "googlenet", "densenet121", "convnext_tiny",
         "mnasnet0_5", "vgg11_bn", "alexnet", "swin_t", "vit_b_16", "inception_v3", "transformer_encoder"]


class TransformerEncoderModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(1000, 256)
        layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(256, 10)

    def forward(self, ids):
        return self.head(self.encoder(self.emb(ids)).mean(1))


def build(name: str, size: int):
    import torchvision
    torch.manual_seed(0)
    if name == "transformer_encoder":
        return TransformerEncoderModel().eval(), torch.randint(0, 1000, (1, 16)), ["Linear"]
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    model = randomize_norms(getattr(torchvision.models, name)(**kwargs))
    side = 224 if name == "vit_b_16" else max(size, 96) if name == "inception_v3" else size
    return model, torch.randn(1, 3, side, side), ["Conv2d", "Linear"]


def timed(fn, runs: int):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def latency(model: nn.Module, x, runs: int) -> float:
    with torch.no_grad():
        model(x)
        return timed(lambda: model(x), runs)[0]


def partition(config):
    groups = {}
    for c in config:
        if "dependency_group_id" in c:
            groups.setdefault(c["dependency_group_id"], set()).add(c["op_names"][0])
    blocks = {c["op_names"][0]: c.get("internal_metric_block") for c in config}
    return sorted(sorted(g) for g in groups.values()), blocks


def short(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:90] if str(e) else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT))
    parser.add_argument("--all", action="store_true", help="the issue's model list")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--no-nni", action="store_true")
    args = parser.parse_args()
    names = ISSUE if args.all else args.models.split(",")
    nni_auto = nni_speedup = None
    if not args.no_nni:
        import nni_examples.nni_patches as patches
        patches.apply()
        from nni.compression.speedup import ModelSpeedup as NNISpeedup
        from nni.compression.utils import auto_set_denpendency_group_ids as nni_auto
        nni_speedup = NNISpeedup
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)  # NNI's speedup logs every node at INFO
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input size {args.size}, "
          f"median of {args.runs} (swiftcompress) / 1 (NNI) runs, latency median of {args.latency_runs}")
    print()
    print("| model | groups sc (s) | groups NNI (s) | same | speedup sc (s) | speedup NNI (s) | params before -> after "
          "| FLOPs before -> after | latency before -> after (ms) | max err / scale |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = 0
    for name in names:
        row = [name]
        try:
            model, x, types = build(name, args.size)
            config_list = [{"op_types": types, "sparse_ratio": 0.5}]
            t_groups, config = timed(lambda: auto_set_denpendency_group_ids(model, copy.deepcopy(config_list), x),
                                     args.runs)
            row.append(f"{t_groups:.3f}")
            same = "-"
            if nni_auto is not None:
                try:
                    t_nni, nni_config = timed(lambda: nni_auto(model, copy.deepcopy(config_list), x), 1)
                    row.append(f"{t_nni:.3f}")
                    same = "yes" if partition(nni_config) == partition(config) else "no"
                except Exception as e:  # noqa: BLE001
                    row.append("fails: " + short(e))
            else:
                row.append("-")
            row.append(same)
            pruner = L1NormPruner(model, config)
            _, masks = pruner.compress()
            pruner.unwrap_model()
            masks = {m: {t: v.clone() for t, v in ts.items() if v is not None} for m, ts in masks.items()}
            flops0, params0, _ = count_flops_params(model, x, verbose=False)
            lat0 = latency(model, x, args.latency_runs)
            copies = [copy.deepcopy(model) for _ in range(args.runs)]
            speedups = []

            def run_sc():
                m = copies.pop()
                s = ModelSpeedup(m, x, masks)
                s.speedup_model().eval()  # the rebuilt modules come back in training mode (as NNI's)
                speedups.append((m, s))
                return m

            t_speed, shrunk = timed(run_sc, args.runs)
            row.append(f"{t_speed:.3f}")
            if nni_speedup is not None:
                try:
                    m = copy.deepcopy(model)
                    t_nni_speed, _ = timed(lambda: nni_speedup(m, x, copy.deepcopy(masks)).speedup_model(), 1)  # NNI edits masks
                    row.append(f"{t_nni_speed:.3f}")
                except Exception as e:  # noqa: BLE001
                    row.append("fails: " + short(e))
            else:
                row.append("-")
            flops1, params1, _ = count_flops_params(shrunk, x, verbose=False)
            lat1 = latency(shrunk, x, args.latency_runs)
            ref = masked_reference(model, masks, speedups[-1][1])
            with torch.no_grad():
                expected, got = ref(x), shrunk(x)
            err = (expected - got).abs().max().item() / max(expected.abs().max().item(), 1e-30)
            row += [f"{params0} -> {params1}", f"{flops0} -> {flops1}", f"{lat0 * 1e3:.1f} -> {lat1 * 1e3:.1f}",
                    f"{err:.1e}"]
            if params1 < params0 and err < 1e-4:
                ok += 1
        except Exception as e:  # noqa: BLE001
            row.append("fails: " + short(e))
            traceback.print_exc(file=sys.stderr)
        print("| " + " | ".join(row) + " |", flush=True)
    print()
    print(f"{ok} of {len(names)} models: fewer params and the masked model's output (max err < 1e-4 of scale)")


if __name__ == "__main__":
    main()
