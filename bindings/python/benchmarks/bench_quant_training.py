"""Training-step overhead of the training-aware quantizers: swiftcompress vs NNI 3.0 vs the plain step.

    OMP_WAIT_POLICY=PASSIVE python bindings/python/benchmarks/bench_quant_training.py [--runs 15] [--batch 64]

Model: Linear(256, 512) - ReLU - Linear(512, 128) - ReLU - Linear(128, 10) (seed 0), batch --batch of
random inputs and targets. Each quantizer quantizes the three Linear layers' ``weight`` (and
``_input_`` for QAT / LSQ / LSQ+; BNN and DoReFa also the first ReLU's ``_output_``), int8 (uint8
affine for LSQ+ / DoReFa). One training step = forward + MSE loss + backward + SGD step
(+ the quantizer's after-step task: ours ``quantizer.step()``; NNI's is set up the same way by hand:
QAT ``current_step``, LSQ / LSQ+ / BNN / DoReFa ``is_init``). The learnable LSQ / LSQ+ scales are in
both optimizers. NNI is used as a library (its wrappers, driven by this loop), so its evaluator adds
nothing. DoReFa: both sides also quantize the gradients of the modules with only weight targets
(``register_output_backward_hook()``, which NNI's and our ``compress`` call; called here by hand).

Each step is timed as the median of --runs steps after 3 warm-up steps, the three variants
alternating step by step. Prints a markdown table: plain, NNI and swiftcompress medians (ms), the
overheads over plain (ms) and the ratio of the overheads NNI / swiftcompress.
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

logging.getLogger("nni").setLevel(logging.ERROR)
logging.getLogger("swiftcompress").setLevel(logging.ERROR)

import nni.compression.quantization as nq  # noqa: E402

import swiftcompress.quantization as sq  # noqa: E402


def make() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10))


LINEARS = ["0", "2", "4"]


def configs() -> Dict[str, Tuple[str, List[Dict[str, Any]], Dict[str, Any]]]:
    w_in = {"op_names": LINEARS, "target_names": ["_input_", "weight"]}
    return {
        "QATQuantizer": ("QATQuantizer", [dict(w_in, quant_dtype="int8", quant_scheme="affine")], {"quant_start_step": 0}),
        "LsqQuantizer": ("LsqQuantizer", [dict(w_in, quant_dtype="int8", quant_scheme="symmetric")], {}),
        "LsqPlusQuantizer": ("LsqPlusQuantizer", [dict(w_in, quant_dtype="uint8", quant_scheme="affine")], {}),
        "DoReFaQuantizer": ("DoReFaQuantizer", [
            {"op_names": LINEARS, "target_names": ["weight"], "quant_dtype": "uint8", "quant_scheme": "affine"},
            {"op_names": ["1"], "target_names": ["_output_"], "quant_dtype": "uint8", "quant_scheme": "affine"}], {}),
        "BNNQuantizer": ("BNNQuantizer", [
            {"op_names": LINEARS, "target_names": ["weight"], "quant_dtype": "int8"},
            {"op_names": ["1"], "target_names": ["_output_"], "quant_dtype": "int8"}], {}),
    }


def nni_extra(quantizer: Any, model: nn.Module) -> List[torch.Tensor]:
    """NNI's extra trainable parameters not already among the model's (its wrappers are submodules)."""
    known = {id(p) for p in model.parameters()}
    groups = quantizer.patch_optimizer_param_group()
    return [p for params in groups.values() for p in params if id(p) not in known]


def nni_after(quantizer: Any) -> Callable[[], None]:
    def task() -> None:
        if hasattr(quantizer, "current_step"):
            quantizer.current_step += 1
        if hasattr(quantizer, "is_init"):
            quantizer.is_init = True
    return task


def stepper(model: nn.Module, extra: List[torch.Tensor], after: Callable[[], None], x: torch.Tensor, y: torch.Tensor
            ) -> Callable[[], None]:
    optimizer = torch.optim.SGD(list(model.parameters()) + list(extra), lr=1e-3)
    model.train()

    def step() -> None:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
        after()
    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(args.batch, 256, generator=g), torch.randn(args.batch, 10, generator=g)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, median of {args.runs} steps\n")
    print("| quantizer | plain ms | NNI ms | swiftcompress ms | NNI overhead ms | ours overhead ms | overhead NNI / ours |")
    print("|---|---|---|---|---|---|---|")
    for label, (name, config, kwargs) in configs().items():
        base = make()
        plain = stepper(copy.deepcopy(base), [], lambda: None, x, y)
        nni_model = copy.deepcopy(base)
        theirs = getattr(nq, name)(nni_model, copy.deepcopy(config), None, **kwargs)
        nni_step = stepper(nni_model, nni_extra(theirs, nni_model), nni_after(theirs), x, y)
        if hasattr(theirs, "register_output_backward_hook"):
            theirs.register_output_backward_hook()
        our_model = copy.deepcopy(base)
        ours = getattr(sq, name)(our_model, copy.deepcopy(config), None, **kwargs)
        extra = [p for ps in ours.learnable_parameters().values() for p in ps] if hasattr(ours, "learnable_parameters") else []
        our_step = stepper(our_model, extra, ours.step, x, y)
        if hasattr(ours, "register_output_backward_hook"):
            ours.register_output_backward_hook()
        times: Dict[str, List[float]] = {"plain": [], "nni": [], "ours": []}
        for i in range(args.runs + 3):
            for key, fn in (("plain", plain), ("nni", nni_step), ("ours", our_step)):
                t = time.perf_counter()
                fn()
                if i >= 3:
                    times[key].append((time.perf_counter() - t) * 1e3)
        p, n, o = (statistics.median(times[k]) for k in ("plain", "nni", "ours"))
        ratio = (n - p) / (o - p) if o - p > 0 else float("inf")
        print(f"| {label} | {p:.3f} | {n:.3f} | {o:.3f} | {n - p:.3f} | {o - p:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
