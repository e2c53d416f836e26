"""``python -m swiftcompress explain MODEL CONFIG [--json] [--strict]`` (swiftcompress.cli). Run:
PYTHONPATH=bindings/python /work/venv/bin/python -m pytest -p no:cacheprovider -q bindings/python/tests/test_cli.py
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swiftcompress import cli

MODEL_FILE = '''
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

def build():
    return Net()

instance = Net()
not_a_model = 3
'''


@pytest.fixture()
def files(tmp_path: Path):
    model = tmp_path / "net.py"
    model.write_text(MODEL_FILE)
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"op_types": ["Conv2d"], "sparse_ratio": 0.5}]))
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps([{"op_types": ["Conv2D"], "sparse_ratio": 0.5}]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"op_types": ["Conv2d"], "sparse_ratio": 1.5}]))
    return model, good, typo, bad


def test_explain_prints_the_table_and_exits_0(files, capsys):
    model, good, _, _ = files
    assert cli.main(["explain", f"{model}:build", str(good)]) == 0
    out = capsys.readouterr().out
    assert "conv" in out and "sparse_ratio=0.5" in out and "fc" not in out.split("warnings")[0].split()


def test_json_output_is_the_core_report(files, capsys):
    model, good, _, _ = files
    assert cli.main(["explain", f"{model}:instance", str(good), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["modules"]) == ["conv"] and sorted(data["modules"]["conv"]["targets"]) == ["bias", "weight"]
    assert data["warnings"] == []


def test_strict_fails_on_a_warning_with_the_suggestion(files, capsys):
    model, _, typo, _ = files
    assert cli.main(["explain", f"{model}:build", str(typo)]) == 0  # a warning alone: still 0
    assert cli.main(["explain", f"{model}:build", str(typo), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "op_types 'Conv2D' names no module type of the model (closest: 'Conv2d')" in err
    assert "--strict: 1 warning(s)" in err


def test_bad_config_and_bad_model_exit_2_naming_the_problem(files, capsys, tmp_path):
    model, good, _, bad = files
    assert cli.main(["explain", f"{model}:build", str(bad)]) == 2
    assert "config_list[0]" in capsys.readouterr().err
    assert cli.main(["explain", f"{model}:not_a_model", str(good)]) == 2
    assert "not a torch.nn.Module" in capsys.readouterr().err
    assert cli.main(["explain", f"{model}:missing", str(good)]) == 2
    assert "has no attribute 'missing'" in capsys.readouterr().err
    assert cli.main(["explain", "no_such_package_xyz:model", str(good)]) == 2
    assert "importing no_such_package_xyz failed" in capsys.readouterr().err
    assert cli.main(["explain", "torchvision.models", str(good)]) == 2
    assert "expected MODULE:ATTRIBUTE" in capsys.readouterr().err
    (tmp_path / "list.json").write_text('{"op_types": ["Conv2d"]}')
    assert cli.main(["explain", f"{model}:build", str(tmp_path / "list.json")]) == 2
    assert "expected a JSON list" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text('[{"op_types": }]')
    assert cli.main(["explain", f"{model}:build", str(tmp_path / "broken.json")]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_python_dash_m_runs_a_torchvision_model(files):
    # the module entry point, in a subprocess, on torchvision's ResNet-18 (random init, no download)
    _, good, _, _ = files
    import swiftcompress
    # the package this interpreter imports (installed, or an in-place build), first on the path
    root = str(Path(swiftcompress.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run([sys.executable, "-m", "swiftcompress", "explain", "torchvision.models:resnet18", str(good),
                           "--strict"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "layer4.1.conv2" in done.stdout
