"""Distil a small MLP student from a larger MLP teacher on synthetic data with swiftcompress.

    python examples/python/distill_mlp.py [--steps 200] [--seed 0]

What it does, as a PyTorch user would (CPU, a few seconds):
1. makes a synthetic 10-class problem (inputs in R^20, labels from a fixed random rule);
2. trains the teacher (20 -> 128 -> 128 -> 10) on it with cross-entropy;
3. distils the student (20 -> 24 -> 10, about 1/25 of the teacher's parameters) with
   ``DynamicLayerwiseDistiller`` (NNI 3.0's API; the losses and their gradients are computed by the
   Swift core): ``kl`` on the logits (``head``, linked to the teacher's ``head`` by name) and ``mse``
   between the student's ``proj`` output and the teacher's ``hidden2`` output (an explicit ``link``),
   added to the student's own cross-entropy by ``distiller.loss(original_loss, batch)`` in an
   ordinary training loop;
4. prints the distillation loss per target falling, and the student's agreement with the teacher
   and accuracy on held-out data, then unwraps both models (the hooks are removed).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import swiftcompress
from swiftcompress.distillation import DynamicLayerwiseDistiller


class Teacher(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden1 = nn.Linear(20, 128)
        self.hidden2 = nn.Linear(128, 128)
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.hidden2(F.relu(self.hidden1(x)))))


class Student(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(20, 24)
        self.proj = nn.Linear(24, 128)  # matched to the teacher's hidden2 output by mse
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.proj(F.relu(self.hidden(x)))))


def make_data(seed: int, n: int):
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(20, 10, generator=g)
    w2 = torch.randn(10, 10, generator=g)
    x = torch.randn(n, 20, generator=g)
    y = (x @ w1 + 0.5 * torch.tanh(x @ w1) @ w2).argmax(dim=1)
    return x, y


def batches(x: torch.Tensor, y: torch.Tensor, size: int, g: torch.Generator):
    while True:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - size + 1, size):
            idx = order[i:i + size]
            yield x[idx], y[idx]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="distillation steps (batches of 64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the matrices are tiny: one thread is fastest (and immune to a busy machine)
    torch.manual_seed(args.seed)
    x, y = make_data(args.seed, 6000)
    x_train, y_train, x_test, y_test = x[:5000], y[:5000], x[5000:], y[5000:]
    g = torch.Generator().manual_seed(args.seed + 1)

    start = time.perf_counter()
    teacher = Teacher()
    opt = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    data = batches(x_train, y_train, 64, g)
    for _ in range(300):
        xb, yb = next(data)
        loss = F.cross_entropy(teacher(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    teacher.eval()
    print(f"teacher: {sum(p.numel() for p in teacher.parameters())} parameters, test accuracy "
          f"{accuracy(teacher, x_test, y_test):.3f} ({time.perf_counter() - start:.1f} s)")

    student = Student()
    config_list = [
        {"op_names": ["head"], "apply_method": "kl"},                               # link 'auto': teacher's head
        {"op_names": ["proj"], "apply_method": "mse", "link": "hidden2", "lambda": 0.5},
    ]
    print(swiftcompress.explain(student, config_list, mode="distillation"))
    distiller = DynamicLayerwiseDistiller(student, config_list, teacher,
                                          teacher_predict=lambda batch, model: model(batch[0]),
                                          origin_loss_lambda=1.0)
    print(f"student: {sum(p.numel() for p in student.parameters())} parameters; links "
          f"{distiller.target_links()}")

    opt = torch.optim.Adam(student.parameters(), lr=3e-3)
    start = time.perf_counter()
    first = None
    print(f"{'step':>5} {'head kl':>9} {'proj mse':>9} {'total':>9} {'agreement':>9}")
    for step in range(args.steps + 1):
        batch = next(data)
        original = F.cross_entropy(student(batch[0]), batch[1])   # the hooks record the student's outputs
        loss = distiller.loss(original, batch)                      # runs the teacher, adds the distillation loss
        opt.zero_grad()
        loss.backward()                                             # the core's gradient flows into the student
        opt.step()
        losses = distiller.last_losses
        kl, mse = losses["head"]["_output_0"], losses["proj"]["_output_0"]
        if first is None:
            first = kl + mse
        if step % 25 == 0:
            with torch.no_grad():
                agreement = float((student(x_test).argmax(1) == teacher(x_test).argmax(1)).float().mean())
            print(f"{step:>5} {kl:>9.4f} {mse:>9.4f} {kl + mse:>9.4f} {agreement:>9.3f}")
    elapsed = time.perf_counter() - start
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    print(f"distillation loss {first:.4f} -> {kl + mse:.4f} in {args.steps} steps ({elapsed:.1f} s); "
          f"student test accuracy {accuracy(student, x_test, y_test):.3f}")


if __name__ == "__main__":
    main()
