"""Per-training-step overhead of the training-aware pruners, ours vs NNI 3.0's, in one run.

    PYTHONPATH=bindings/python /work/venv/bin/python bindings/python/benchmarks/bench_training.py [--steps N]

For each pruner, the same model / data / optimizer (SGD, momentum 0.9) is trained for N steps
through NNI's TorchEvaluator: plainly (no pruner), with NNI's pruner, with ours. The training
function times each step (zero_grad + forward + loss (patched) + backward + optimizer.step
(patched)); the table gives the medians and each pruner's overhead = median - plain median.
The mask generation after the last step is not in the step times. CPU, torch threads as set.
"""
import argparse
import statistics
import time
import warnings

import torch

import nni
import nni.compression.pruning as npr
from nni.compression import TorchEvaluator

from swiftcompress import pruning as spr

warnings.filterwarnings("ignore")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(32)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(64)
        self.fc = torch.nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(16, 3, 16, 16, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(8)]
    times = []

    def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        model.train()
        n = 0
        while max_steps is None or n < max_steps:
            for batch in data:
                t0 = time.perf_counter()
                optimizer.zero_grad()
                loss = training_step(batch, model)
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - t0)
                n += 1
                if n >= max_steps:
                    return

    def training_step(batch, model):
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    def run(make):
        torch.manual_seed(1)
        model = Net()
        opt = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.01, momentum=0.9)
        ev = TorchEvaluator(training_func, opt, training_step)
        times.clear()
        if make is None:
            training_func(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), training_step, None,
                          args.steps, None)
        else:
            make(model, ev)
        return [t * 1e3 for t in times[2:]]  # skip warm-up steps

    conv = [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]
    bn = [{"op_types": ["BatchNorm2d"], "sparse_ratio": 0.5}]
    cases = {
        "TaylorPruner": lambda mod: (lambda m, e: mod.TaylorPruner(m, conv, e, args.steps).compress()),
        "SlimPruner": lambda mod: (lambda m, e: mod.SlimPruner(m, bn, e, args.steps, 1.0).compress()),
        "MovementPruner": lambda mod: (
            lambda m, e: mod.MovementPruner(m, conv, e, 2, args.steps - 5).compress(args.steps, None)),
        "AGPPruner(L1NormPruner)": lambda mod: (
            lambda m, e: mod.AGPPruner(mod.L1NormPruner(m, conv), 5, args.steps // 5, e).compress(args.steps, None)),
        "AGPPruner(TaylorPruner)": lambda mod: (
            lambda m, e: mod.AGPPruner(mod.TaylorPruner(m, conv, e, 5), 5, args.steps // 5).compress(args.steps, None)),
    }
    samples = {"plain": []}
    for name in cases:
        samples[name + " NNI"], samples[name + " ours"] = [], []
    for _ in range(args.rounds):  # interleaved rounds: load on the machine hits every variant alike
        samples["plain"] += run(None)
        for name, case in cases.items():
            samples[name + " NNI"] += run(case(npr))
            samples[name + " ours"] += run(case(spr))
    med = {k: statistics.median(v) for k, v in samples.items()}
    plain = med["plain"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps, batch 16x3x16x16; "
          f"{args.rounds} interleaved rounds; medians per training step")
    print(f"plain training step: {plain:.3f} ms")
    print(f"{'pruner':26s} {'NNI ms':>9s} {'ours ms':>9s} {'NNI over':>9s} {'ours over':>9s} {'ours/NNI':>9s}")
    for name, case in cases.items():
        n, s = med[name + " NNI"], med[name + " ours"]
        ratio = (s - plain) / (n - plain) if n - plain > 1e-9 else float("nan")
        print(f"{name:26s} {n:9.3f} {s:9.3f} {n - plain:+9.3f} {s - plain:+9.3f} {ratio:9.2f}")


if __name__ == "__main__":
    main()
