"""Inputs that used to raise raw Python exceptions (issue 18) raise swiftcompress errors naming the
module or the config path: module names with a NUL character or a lone surrogate (torch accepts
both), config lists nested deeper than json.dumps can follow or containing themselves, and duck-typed
models whose named_modules() yields odd items."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import swiftcompress
from swiftcompress.distillation import DynamicLayerwiseDistiller
from swiftcompress.pruning import L1NormPruner
from swiftcompress.quantization import PtqQuantizer

PRUNE = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]


def model_with(name: str) -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 4))
    model.add_module(name, nn.Linear(4, 4))  # torch accepts the name
    return model


@pytest.mark.parametrize("name, problem", [
    ("fc\x00x", r"module name 'fc\\x00x' contains a NUL character \(at 2\)"),
    ("fc\ud800", r"module name 'fc\\ud800' is not valid Unicode text \(a lone surrogate at 2\)"),
])
def test_module_names_the_core_cannot_take(name, problem):
    model = model_with(name)
    for make in (lambda: L1NormPruner(model, PRUNE), lambda: swiftcompress.explain(model, PRUNE),
                 lambda: PtqQuantizer(model, [{"op_types": ["Linear"], "target_names": ["weight"]}])):
        with pytest.raises(swiftcompress.InvalidArgumentError, match=r"named_modules\(\) item 2: " + problem):
            make()
    assert "forward" not in model[0].__dict__  # nothing was wrapped
    teacher = model_with(name)
    with pytest.raises(swiftcompress.InvalidArgumentError, match=problem):
        DynamicLayerwiseDistiller(nn.Sequential(nn.Linear(4, 4)), [{"op_names": ["0"]}], teacher,
                                  lambda batch, t: t(batch))


def nested(depth: int):
    value = 0.5
    for _ in range(depth):
        value = [value]
    return [{"op_types": ["Linear"], "sparse_ratio": value}]


def test_config_nested_deeper_than_json_dumps_can_follow():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(swiftcompress.ConfigError) as info:
        L1NormPruner(model, nested(5000))
    message = str(info.value)
    assert message.startswith("config_list[0].sparse_ratio[0][0][0][0][0]...(")
    assert "nested deeper than 512 levels" in message and isinstance(info.value, ValueError)
    with pytest.raises(swiftcompress.ConfigError, match="nested deeper than 512 levels"):
        swiftcompress.explain(model, nested(100_000))
    # json.dumps writes 600 levels; the core's parser refuses them
    with pytest.raises(swiftcompress.ConfigError, match="nesting deeper than 512 levels"):
        L1NormPruner(model, nested(600))
    with pytest.raises(swiftcompress.ConfigError, match=r"expected a number in \[0, 1\]"):
        L1NormPruner(model, nested(3))


def test_config_that_contains_itself():
    loop: list = ["Linear"]
    loop.append(loop)
    with pytest.raises(swiftcompress.ConfigError,
                       match=r"^config_list\[0\]\.op_types\[1\]: the config list contains itself"):
        L1NormPruner(nn.Sequential(nn.Linear(4, 4)), [{"op_types": loop, "sparse_ratio": 0.5}])
    config: dict = {"op_types": ["Linear"]}
    config["sparse_ratio"] = config
    with pytest.raises(swiftcompress.ConfigError, match=r"^config_list\[0\]\.sparse_ratio: the config list contains"):
        swiftcompress.explain(nn.Sequential(nn.Linear(4, 4)), [config])
    with pytest.raises(swiftcompress.ConfigError, match=r"^config_list\[0\]\.a\.b\[1\]: expected a finite number, got -inf"):
        swiftcompress.explain(nn.Sequential(nn.Linear(4, 4)), [{"a": {"b": [1, float("-inf")]}}])


class Duck:
    """A duck-typed model: named_modules() yields whatever it is given."""

    def __init__(self, items):
        self.items = items

    def named_modules(self, remove_duplicate=True):
        return iter(self.items)


@pytest.mark.parametrize("item, problem", [
    ("fc", r"expected a \(name, module\) tuple, got 'fc' \(str\)"),
    (("fc",), r"expected a \(name, module\) tuple, got \('fc',\) \(tuple\)"),
    (("fc", nn.Linear(2, 2), 3), r"expected a \(name, module\) tuple, got \('fc', Linear"),
    (["fc", nn.Linear(2, 2)], r"expected a \(name, module\) tuple, got \['fc', Linear"),
    ((7, nn.Linear(2, 2)), r"module name: expected a str, got 7 \(int\)"),
    ((None, nn.Linear(2, 2)), r"module name: expected a str, got None \(NoneType\)"),
    (("fc", 42), r"module 'fc': expected a module \(an object with a callable forward\), got 42 \(int\)"),
    (("fc", None), r"module 'fc': expected a module .*, got None \(NoneType\)"),
])
def test_duck_typed_models_with_odd_items(item, problem):
    model = Duck([("", nn.Sequential()), item])
    with pytest.raises(swiftcompress.InvalidArgumentError, match=r"^model\.named_modules\(\) item 1: " + problem):
        swiftcompress.explain(model, PRUNE)


def test_duck_typed_model_with_good_items_is_explained():
    report = swiftcompress.explain(Duck([("", nn.Sequential()), ("fc", nn.Linear(2, 3))]), PRUNE)
    assert list(report.targets) == ["fc"] and report.targets["fc"]["weight"]["sparse_ratio"] == 0.5


def test_a_child_named_with_dots_is_pruned_and_its_forward_masked():
    # torch's _modules takes any str: a child of the root named "layer.1.x" (no module "layer.1")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4))
    model._modules["layer.1.x"] = nn.Linear(4, 4)
    pruner = L1NormPruner(model, PRUNE)
    _, masks = pruner.compress()
    assert list(masks) == ["0", "layer.1.x"]
    child = model._modules["layer.1.x"]
    assert masks["layer.1.x"]["weight"][:, 0].tolist().count(0.0) == 2
    x = torch.randn(2, 4)
    with torch.no_grad():
        expected = torch.nn.functional.linear(model[0](x), child.weight * masks["layer.1.x"]["weight"],
                                              child.bias * masks["layer.1.x"]["bias"])
        assert torch.equal(child(model[0](x)), expected)
    pruner.unwrap_model()
    assert "forward" not in child.__dict__ and "forward" not in model.__dict__


def test_core_add_teacher_modules_refuses_a_lone_surrogate():
    from swiftcompress import _core

    s = _core.Session(_core.SC_MODE_DISTILLATION)
    with pytest.raises(swiftcompress.InvalidArgumentError, match=r"names\[1\] is not valid Unicode text"):
        s.add_teacher_modules(["a", "b\udc80"])
    with pytest.raises(swiftcompress.InvalidArgumentError, match=r"names\[0\] contains a NUL character"):
        s.add_teacher_modules(["a\x00"])


def test_core_json_text_with_a_lone_surrogate_is_a_config_error():
    from swiftcompress import _core

    s = _core.Session(_core.SC_MODE_PRUNING)
    with pytest.raises(swiftcompress.ConfigError, match="set_config: the text is not valid Unicode"):
        s.set_config('[{"op_names": ["\ud800"]}]')
    with pytest.raises(swiftcompress.ConfigError, match="add_modules_json: the text is not valid Unicode"):
        s.add_modules_json('[{"name": "\ud800", "type": "Linear"}]')
    # the package writes ASCII JSON (\\u escapes): the core's parser refuses the unpaired surrogate
    with pytest.raises(swiftcompress.ConfigError, match=r"unpaired surrogate in \\u escape"):
        swiftcompress.explain(nn.Sequential(nn.Linear(2, 2)), [{"op_names": ["\ud800"], "sparse_ratio": 0.5}])
