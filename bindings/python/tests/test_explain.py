"""swiftcompress.explain: the report of a config list for a model, and forward argument names."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

import swiftcompress
from conftest import build


def test_report_for_resnet18():
    model = build("resnet18")
    config_list = [{"op_types": ["Conv2d"], "op_names_re": [r"layer1\..*"], "sparse_ratio": 0.5},
                   {"op_names": ["fc", "module.fc"], "sparse_ratio": 0.8, "max_sparse_ratio": 0.9}]
    report = swiftcompress.explain(model, config_list)
    assert report.mode == "pruning" and report.legacy is False
    targets = report.targets
    assert list(targets) == ["layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2", "fc"]
    assert list(targets["fc"]) == ["weight", "bias"]
    assert targets["fc"]["weight"]["sparse_ratio"] == 0.8
    assert targets["fc"]["weight"]["max_sparse_ratio"] == 0.9
    assert targets["layer1.0.conv1"]["weight"]["sparse_ratio"] == 0.5
    assert targets["fc"]["bias"]["align"] == {"module_name": None, "target_name": "weight", "dims": [0]}
    assert [w.kind for w in report.warnings] == ["unmatched_op_name"]
    warning = report.warnings[0]
    assert warning.config == 1 and "module.fc" in str(warning) and "fc" in warning.message
    table = str(report)
    assert "config_list[0]" in table and "layer1.0.conv1" in table and "module.fc" in table
    assert report.configs[0]["selected"] == list(targets)[:4]
    assert repr(report) == "<ExplainReport pruning: 2 config(s), 10 target(s), 1 warning(s)>"


def test_legacy_list_and_other_modes():
    model = build("resnet18")
    legacy = swiftcompress.explain(model, [{"sparsity_per_layer": 0.5, "op_types": ["Linear"]}])
    assert legacy.legacy is True
    assert legacy.targets["fc"]["weight"]["sparse_ratio"] == 0.5
    quant = swiftcompress.explain(model, [{"op_names": ["fc"], "quant_dtype": "int8", "target_names": ["weight"]}],
                                  mode="quantization")
    assert quant.mode == "quantization" and list(quant.targets["fc"]) == ["weight"]


class Linear(nn.Linear):
    """A Linear (by class name, so the Linear templates apply) with a gated forward."""

    def forward(self, x: torch.Tensor, gate: Optional[torch.Tensor] = None, *, scale: float = 1.0) -> torch.Tensor:
        out = super().forward(x)
        return out if gate is None else out * gate


def test_input_names_resolve_through_the_forward_signature():
    model = nn.Sequential(Linear(4, 4))
    config_list = [{"op_types": ["Linear"], "target_names": ["_input_gate", "_input_x"],
                    "target_settings": {"_input_gate": {"sparse_ratio": 0.5}, "_input_x": {"sparse_ratio": 0.2}}}]
    report = swiftcompress.explain(model, config_list)
    targets = report.data["modules"]["0"]["targets"]
    positions = {name: (entry["kind"], entry["position"], entry.get("argument")) for name, entry in targets.items()}
    assert positions == {"_input_x": ("input", 0, "x"), "_input_gate": ("input", 1, "gate")}
    unknown = [{"op_types": ["Linear"], "target_names": ["_input_scale"],
                "target_settings": {"_input_scale": {"sparse_ratio": 0.5}}}]
    try:
        swiftcompress.explain(model, unknown)
    except swiftcompress.ConfigError as error:
        assert "_input_scale" in str(error)
    else:  # pragma: no cover
        raise AssertionError("a keyword-only argument has no position: expected a ConfigError")
