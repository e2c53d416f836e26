"""Leak check (issue 18): 1000 rounds of creating and freeing a core session (bind, generate, refused
calls), a pruner (compress, forward, unwrap), a quantizer (calibrate, compress, forward, unwrap) and a
distiller (loss, backward, unwrap) must leave the resident set size flat: the growth between round
200 (allocators and caches warmed up) and round 1000 stays below a few MB."""
from __future__ import annotations

import gc
import json
import os
import time

import pytest
import torch
import torch.nn as nn

import swiftcompress
from swiftcompress import _core
from swiftcompress.distillation import DynamicLayerwiseDistiller
from swiftcompress.pruning import L1NormPruner
from swiftcompress.quantization import PtqQuantizer

ROUNDS = 1000
WARM = 200
MAX_GROWTH_MB = 4.0
TIME_BOUND_S = 120.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


LEAK = []  # the self-check of the test appends here


def one_round(x: torch.Tensor) -> None:
    # a bare core session, with a refused config and a refused bind
    s = _core.Session(_core.SC_MODE_PRUNING)
    s.add_modules([("", "M", None), ("fc", "Linear", ["input"])])
    s.set_config(json.dumps([{"op_names": ["fc"], "sparse_ratio": 0.5}]))
    w = torch.randn(64, 64)  # 16 KB each: a leaked binding would add 25 MB over the rounds
    m = torch.empty_like(w)
    s.bind("fc", "weight", (w.data_ptr(), _core.SC_DTYPE_FLOAT32, (64, 64), (64, 1)),
           (m.data_ptr(), _core.SC_DTYPE_FLOAT32, (64, 64), (64, 1)), (w, m))
    s.bind("fc", "bias", None, None)
    try:
        s.set_config("[{")
    except swiftcompress.ConfigError:
        pass
    try:
        s.bind("fc", "weight", (w.data_ptr(), _core.SC_DTYPE_FLOAT32, (64, 64), (64, 1)),
               (m.data_ptr(), _core.SC_DTYPE_FLOAT32, (2, 2), (2, 1)), (w, m))
    except swiftcompress.ShapeError:
        pass
    s.generate_masks(_core.SC_METRIC_L1)
    s.close()

    # 10 KB of parameters (and as much of masks): a leaked pruner, quantizer or distiller would show
    model = nn.Sequential(nn.Linear(6, 256), nn.ReLU(), nn.Linear(256, 5))
    pruner = L1NormPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    pruner.compress()
    with torch.no_grad():
        model(x)
    pruner.unwrap_model()

    quantizer = PtqQuantizer(model, [{"op_types": ["Linear"], "target_names": ["_input_", "weight", "_output_"]}])
    quantizer.calibrate([x])
    quantizer.compress()
    model(x).sum().backward()
    quantizer.unwrap_model()

    teacher = nn.Sequential(nn.Linear(6, 256), nn.ReLU(), nn.Linear(256, 5))
    distiller = DynamicLayerwiseDistiller(model, [{"op_names": ["0", "2"]}], teacher, lambda b, t: t(b))
    model(x)
    distiller.loss(torch.zeros(()), x).backward()
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    if LEAK:
        LEAK.append((pruner, quantizer, distiller))


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: intra-op threads only spin (on a loaded 2-core machine 30x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_rss_is_flat_over_1000_rounds(one_torch_thread):
    torch.manual_seed(0)
    x = torch.randn(3, 6)
    start = time.monotonic()
    figures = {}
    for i in range(1, ROUNDS + 1):
        one_round(x)
        if i in (1, 100, WARM, 400, 600, 800, ROUNDS):
            gc.collect()
            figures[i] = rss_mb()
    elapsed = time.monotonic() - start
    growth = figures[ROUNDS] - figures[WARM]
    print(f"\nRSS (MB) after round: " + ", ".join(f"{i}: {v:.1f}" for i, v in figures.items()) +
          f"; growth {WARM}->{ROUNDS}: {growth:+.2f} MB ({growth * 1024 / (ROUNDS - WARM):+.2f} KB/round); "
          f"{elapsed:.1f} s")
    assert growth < MAX_GROWTH_MB
    assert elapsed < TIME_BOUND_S
