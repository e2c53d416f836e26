"""The Python examples of examples/python run as scripts and print what their docstrings promise.

(distill_mlp.py is run by test_distillation.py; prune_resnet.py by `make demo`, minutes on
ResNet-50.)
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python"


def run(script: str, *args: str) -> str:
    path = EXAMPLES / script
    assert path.is_file(), path
    done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quantize_mlp_int8_keeps_the_accuracy_and_unwraps():
    out = run("quantize_mlp.py")
    # Every Linear of the 3-layer MLP has an _input_, weight and _output_ entry with int8 parameters.
    entries = re.findall(r"^\s+(\d+)\.(_input_0|weight|_output_0)\s+int8\s+8 bits", out, flags=re.M)
    assert len(entries) == 9, out
    found = re.search(r"test accuracy: float ([0-9.]+), quantized ([0-9.]+); largest logit difference ([0-9.e+-]+)", out)
    assert found, out
    float_accuracy, quantized_accuracy, difference = (float(g) for g in found.groups())
    assert float_accuracy > 0.5, out  # trained (4 classes: chance is 0.25)
    assert abs(quantized_accuracy - float_accuracy) <= 0.02, out
    assert 0 < difference < 0.5, out  # quantized, and close
    assert "unwrapped: the float model again" in out


def test_quantize_mlp_int4_per_channel():
    out = run("quantize_mlp.py", "--dtype", "int4", "--granularity", "per_channel")
    # Per-channel weight scales: one per output row (keepdim shape (rows, 1)).
    shapes = re.findall(r"^\s+\d+\.weight\s+int4\s+4 bits\s+(\d+) scales .* scale shape \((\d+), 1\)", out, flags=re.M)
    assert len(shapes) == 3 and all(a == b for a, b in shapes), out
    assert "unwrapped: the float model again" in out
