"""The Python package reads the core's typed facts of each target (``report["facts"]``,
``report["configs"][i]["fusions"]``), never its setting keys: the pruners, quantizers and the
distiller behave the same when the report's ``settings`` are removed, and no module of the package
reads a setting key."""

from __future__ import annotations

import copy
import pathlib
import re
from collections import OrderedDict
from typing import Any, Dict, List

import pytest
import torch
import torch.nn as nn

import swiftcompress
import swiftcompress._session as _session
import swiftcompress.distillation._distiller as _distiller
from swiftcompress.distillation import DynamicLayerwiseDistiller
from swiftcompress.errors import QuantizationError
from swiftcompress.pruning import L1NormPruner, LevelPruner
from swiftcompress.quantization import PtqQuantizer, QATQuantizer

PACKAGE = pathlib.Path(swiftcompress.__file__).resolve().parent


def mlp(seed: int = 0, width: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(fc1=nn.Linear(8, 16), relu=nn.ReLU(), fc2=nn.Linear(16, width)))


def without_settings(monkeypatch: pytest.MonkeyPatch) -> List[Dict[str, Any]]:
    """Makes every compressor see a report whose targets have no "settings" (and whose configs have
    no translation); returns the reports they got."""
    seen: List[Dict[str, Any]] = []
    real = _session.open_session

    def stripped(model, config_list, mode):
        session, modules, report = real(model, config_list, mode)
        for info in report["modules"].values():
            for entry in info["targets"].values():
                del entry["settings"]
        for config in report["configs"]:
            config.pop("translated", None)
        seen.append(report)
        return session, modules, report

    for module in (_session, _distiller):  # the pruners and quantizers open theirs through _session
        monkeypatch.setattr(module, "open_session", stripped)
    return seen


def masks_of(pruner_cls, config_list):
    model = mlp()
    _, masks = pruner_cls(model, config_list).compress()
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    return {m: {t: None if v is None else v.clone() for t, v in ts.items()} for m, ts in masks.items()}, model(x)


PRUNING_CONFIGS = [
    [{"op_types": ["Linear"], "sparse_ratio": 0.5}],
    [{"op_names": ["fc1"], "sparse_ratio": 0.25, "apply_method": "add"},
     {"op_names": ["fc2"], "target_names": ["weight"], "sparse_threshold": 0.1, "apply_method": "bypass"}],
    [{"op_types": ["Linear"], "sparsity": 0.5}],  # legacy
]


@pytest.mark.parametrize("config_list", PRUNING_CONFIGS)
@pytest.mark.parametrize("pruner_cls", [LevelPruner, L1NormPruner])
def test_pruners_work_from_the_facts_alone(monkeypatch, pruner_cls, config_list):
    expected_masks, expected_out = masks_of(pruner_cls, copy.deepcopy(config_list))
    seen = without_settings(monkeypatch)
    masks, out = masks_of(pruner_cls, copy.deepcopy(config_list))
    assert seen and all("settings" not in e for r in seen for i in r["modules"].values() for e in i["targets"].values())
    assert masks.keys() == expected_masks.keys()
    for m in masks:
        assert masks[m].keys() == expected_masks[m].keys()
        for t in masks[m]:
            assert torch.equal(masks[m][t], expected_masks[m][t])
    assert torch.equal(out, expected_out)


def test_pruner_facts_give_apply_and_prunes():
    report = swiftcompress.explain(mlp(), PRUNING_CONFIGS[1]).data
    assert report["facts"]["fc1"]["weight"] == {"role": "parameter", "active": True, "apply": "add", "prunes": True}
    assert report["facts"]["fc1"]["bias"] == {"role": "parameter", "active": False, "apply": "add", "prunes": False}
    assert report["facts"]["fc2"]["weight"]["apply"] == "bypass"
    assert report["fusions"] == []


def quantize(cls, config_list, **kwargs):
    model = mlp()
    data = [torch.randn(5, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    quantizer = cls(model, config_list, **kwargs)
    if cls is PtqQuantizer:
        quantizer.calibrate(data)
        _, calibration = quantizer.compress()
    else:
        model.train()
        for b in data:
            model(b)
            quantizer.step()
        _, calibration = quantizer.compress()
    model.eval()
    out = model(torch.randn(2, 8, generator=torch.Generator().manual_seed(9)))
    return {m: {t: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in e.items()} for t, e in ts.items()}
            for m, ts in calibration.items()}, out


QUANT_CONFIGS = [
    [{"op_types": ["Linear"], "target_names": ["_input_", "weight", "bias", "_output_"], "quant_dtype": "uint8",
      "quant_scheme": "affine"}],
    [{"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "int4", "granularity": "out_channel"},
     {"op_names": ["fc2"], "target_names": ["weight", "_output_"], "apply_method": "bypass"}],
    [{"op_types": ["Linear"], "quant_types": ["weight", "output"], "quant_bits": 6, "quant_start_step": 2}],  # legacy
]


def same_calibration(a, b):
    assert a.keys() == b.keys()
    for m in a:
        assert a[m].keys() == b[m].keys()
        for t in a[m]:
            assert a[m][t].keys() == b[m][t].keys()
            for k in a[m][t]:
                x, y = a[m][t][k], b[m][t][k]
                assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y, (m, t, k, x, y)


@pytest.mark.parametrize("config_list", QUANT_CONFIGS)
@pytest.mark.parametrize("cls", [PtqQuantizer, QATQuantizer])
def test_quantizers_work_from_the_facts_alone(monkeypatch, cls, config_list):
    kwargs = {"quant_start_step": 1} if cls is QATQuantizer else {}
    expected, expected_out = quantize(cls, copy.deepcopy(config_list), **kwargs)
    seen = without_settings(monkeypatch)
    calibration, out = quantize(cls, copy.deepcopy(config_list), **kwargs)
    assert seen
    same_calibration(calibration, expected)
    assert torch.equal(out, expected_out)


def test_quantizer_facts_and_the_calibration_config():
    report = swiftcompress.explain(mlp(), QUANT_CONFIGS[1], mode="quantization").data
    assert report["facts"]["fc1"]["weight"] == {
        "role": "parameter", "active": True, "apply": "clamp_round", "quant_dtype": "int4", "quant_bits": 4,
        "quant_scheme": None, "granularity": "out_channel", "quant_start_step": None}
    assert report["facts"]["fc2"]["_output_0"]["role"] == "output"
    assert report["facts"]["fc2"]["_output_0"]["apply"] == "bypass"
    calibration, _ = quantize(PtqQuantizer, QUANT_CONFIGS[1])
    assert calibration["fc1"]["weight"]["quant_dtype"] == "int4"
    assert calibration["fc1"]["weight"]["quant_scheme"] is None
    assert calibration["fc2"]["weight"]["quant_dtype"] == "int8"
    legacy = swiftcompress.explain(mlp(), QUANT_CONFIGS[2], mode="quantization").data
    assert legacy["facts"]["fc1"]["weight"]["quant_start_step"] == 2
    assert legacy["facts"]["fc1"]["weight"]["quant_dtype"] == "int6"


def test_fusions_come_from_the_report(monkeypatch):
    def conv_bn() -> nn.Module:
        return nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 4, 3), bn=nn.BatchNorm2d(4)))

    config_list = [{"op_names": ["conv"], "target_names": ["weight"]},
                   {"op_names": ["bn"], "target_names": ["weight"], "fuse_names": [["bn", "conv"]]}]
    report = swiftcompress.explain(conv_bn(), config_list, mode="quantization").data
    assert report["fusions"] == [["bn", "conv"]]
    assert "fusions" not in report["configs"][0] and report["configs"][1]["fusions"] == [["bn", "conv"]]
    without_settings(monkeypatch)
    with pytest.raises(QuantizationError, match=re.escape("config_list[1].fuse_names ['bn', 'conv']: don't provide "
                                                          "quantization settings for the fused modules ['conv']")):
        PtqQuantizer(conv_bn(), config_list)


def distil(config_list):
    student, teacher = mlp(0, width=16), mlp(1, width=16)
    distiller = DynamicLayerwiseDistiller(student, config_list, teacher, lambda batch, t: t(batch))
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    student.zero_grad()
    student(x)
    loss = distiller.loss(torch.zeros(()), x)
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None}, \
        distiller.target_links()


def test_distiller_works_from_the_facts_alone(monkeypatch):
    config_list = [{"op_names": ["fc1"], "lambda": 0.5},
                   {"op_names": ["fc2"], "apply_method": "kl", "link": ["fc1", "fc2"]}]
    expected = distil(copy.deepcopy(config_list))
    report = swiftcompress.explain(mlp(), config_list, mode="distillation").data
    assert report["facts"]["fc2"]["_output_0"] == {"role": "output", "active": True, "apply": "kl", "lambda": 1.0,
                                                   "links": ["fc1", "fc2"]}
    assert report["facts"]["fc1"]["_output_0"]["lambda"] == 0.5
    seen = without_settings(monkeypatch)
    loss, grads, links = distil(copy.deepcopy(config_list))
    assert seen
    assert loss == expected[0] and links == expected[2]
    assert grads.keys() == expected[1].keys() and all(torch.equal(grads[n], expected[1][n]) for n in grads)


# Setting keys of the three modes and the ways a module could read them from a report or a config.
SETTING_KEYS = ("sparse_ratio", "sparse_threshold", "max_sparse_ratio", "min_sparse_ratio", "global_group_id",
                "dependency_group_id", "granularity", "internal_metric_block", "apply_method", "align",
                "quant_dtype", "quant_scheme", "quant_start_step", "fuse_names", "lambda", "link", "quant_bits",
                "quant_types", "target_settings")


def test_no_module_of_the_package_reads_a_setting_key():
    offenders = []
    keys = "|".join(SETTING_KEYS)
    # a subscript or .get() of a setting key (or of "settings") on anything but the core's facts
    reads = re.compile(r"""((?<!facts)\[\s*["'](?:settings|%s)["']\s*\]|(?<!facts)\.get\(\s*["'](?:settings|%s)["'])"""
                       % (keys, keys))
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if not reads.search(code):
                continue
            # explain().targets hands the canonical settings to the user as they are (it is the report).
            if relative == "_explain.py" and 'entry["settings"]' in code:
                continue
            offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
