"""Quantization benchmark: swiftcompress's PtqQuantizer / QATQuantizer vs NNI 3.0's, and the plain model.

    python bindings/python/benchmarks/bench_quantization.py [--runs 7] [--model resnet18] [--batch 8] [--size 64]

Model: a torchvision model (weights=None, seed 0), every Conv2d and Linear with `_input_`,
`weight` and `_output_` quantized to int8 affine, per tensor, input (batch, 3, size, size).

Cases, each timed as the median of --runs runs after one warm-up run, the three methods alternating
run by run so that they share the machine's state:
- "calibration forward": one forward under torch.no_grad() while observers collect (ours: inside
  `calibrate([x])`, parameters observed once per call; NNI: a forward of the PtqQuantizer-wrapped
  model before compress, which tracks every target in every forward); plain: the model's forward.
- "quantized forward": one forward under torch.no_grad() after compress (fake quantization of
  inputs, weights and outputs with fixed scales).
- "QAT train step": forward + MSE loss + backward + SGD step in training mode with the
  QATQuantizer (quant_start_step 0: EMA observers, scale update and qat_clamp_round every
  forward); ours calls `quantizer.step()` after the optimizer step as a user does; NNI's wrapper
  does the same work in its forward.

Prints a markdown table with medians and the ratios NNI / swiftcompress and swiftcompress / plain.
NNI is used as a library (its wrappers, driven by our loop), so its evaluator adds nothing.

On a small shared machine run it with OMP_WAIT_POLICY=PASSIVE: torch's OpenMP workers otherwise
spin between operators and take the cores from everything else (the core's worker threads, other
processes); with the default policy the same command gave the plain forward anywhere from 43 to
370 ms from one run to the next.
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
import torchvision

logging.getLogger("nni").setLevel(logging.ERROR)

CONFIG = [{"op_types": ["Conv2d", "Linear"], "target_names": ["_input_", "weight", "_output_"],
           "quant_dtype": "int8", "quant_scheme": "affine"}]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def nni_evaluator(model: torch.nn.Module, data: List[torch.Tensor]):
    import nni
    from nni.compression.utils import TorchEvaluator

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        with torch.no_grad():
            for x in data:
                model(x)

    optimizer = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.01)
    return TorchEvaluator(training_func, optimizer, lambda batch, model: model(batch).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    from nni.compression.quantization import PtqQuantizer as NniPtq
    from nni.compression.quantization import QATQuantizer as NniQat

    from swiftcompress.quantization import PtqQuantizer, QATQuantizer

    torch.manual_seed(0)
    base = getattr(torchvision.models, args.model)(weights=None).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=g)
    target = torch.randn(args.batch, 1000, generator=g)

    plain = copy.deepcopy(base)
    ours_ptq_model = copy.deepcopy(base)
    nni_ptq_model = copy.deepcopy(base)
    ours_ptq = PtqQuantizer(ours_ptq_model, CONFIG)
    nni_ptq = NniPtq(nni_ptq_model, copy.deepcopy(CONFIG), nni_evaluator(nni_ptq_model, [x]))

    rows = []

    def case(name: str, methods: Dict[str, Callable[[], object]]) -> None:
        times: Dict[str, List[float]] = {k: [] for k in methods}
        for fn in methods.values():
            fn()  # warm-up
        for _ in range(args.runs):
            for key, fn in methods.items():
                times[key].append(timed(fn))
        medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
        rows.append((name, medians))

    def plain_forward():
        with torch.no_grad():
            plain(x)

    def nni_calibration_forward():
        with torch.no_grad():
            nni_ptq_model(x)

    case("calibration forward", {"swiftcompress": lambda: ours_ptq.calibrate([x]), "NNI 3.0": nni_calibration_forward,
                                 "plain": plain_forward})

    ours_ptq.compress()
    nni_ptq.compress(max_steps=1, max_epochs=None)
    with torch.no_grad():
        same = torch.equal(ours_ptq_model(x), nni_ptq_model(x))

    def forward(model):
        def run():
            with torch.no_grad():
                model(x)
        return run

    case("quantized forward", {"swiftcompress": forward(ours_ptq_model), "NNI 3.0": forward(nni_ptq_model),
                               "plain": plain_forward})

    ours_qat_model = copy.deepcopy(base).train()
    nni_qat_model = copy.deepcopy(base).train()
    plain_train = copy.deepcopy(base).train()
    ours_qat = QATQuantizer(ours_qat_model, CONFIG)
    NniQat(nni_qat_model, copy.deepcopy(CONFIG), nni_evaluator(nni_qat_model, [x]))
    optimizers = {id(m): torch.optim.SGD(m.parameters(), lr=1e-4)
                  for m in (ours_qat_model, nni_qat_model, plain_train)}

    def train_step(model, after=None):
        optimizer = optimizers[id(model)]

        def run():
            optimizer.zero_grad()
            F.mse_loss(model(x), target).backward()
            optimizer.step()
            if after is not None:
                after()
        return run

    case("QAT train step", {"swiftcompress": train_step(ours_qat_model, ours_qat.step),
                            "NNI 3.0": train_step(nni_qat_model), "plain": train_step(plain_train)})

    print(f"{args.model}, input {tuple(x.shape)}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.runs} runs; quantized forward equal to NNI's: {same}")
    print()
    print("| case | swiftcompress | NNI 3.0 | plain model | NNI / swiftcompress | swiftcompress / plain |")
    print("|---|---|---|---|---|---|")
    for name, m in rows:
        ours, theirs, base_ms = m["swiftcompress"], m["NNI 3.0"], m["plain"]
        print(f"| {name} | {ours:.1f} ms | {theirs:.1f} ms | {base_ms:.1f} ms | {theirs / ours:.2f}x | "
              f"{ours / base_ms:.2f}x |")


if __name__ == "__main__":
    main()
