"""The wrapped model: forward applies the masks, unwrap_model() restores it, weights never change."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

import swiftcompress
from conftest import example_input, seeded_model
from swiftcompress.pruning import FPGMPruner, L1NormPruner, L2NormPruner, LevelPruner


def _masked_copy(model, masks, add=False):
    """An unwrapped copy of the model with weight := weight * mask (or weight - 1000 where pruned)."""
    clone = clone_unwrapped(model)
    modules = dict(clone.named_modules())
    with torch.no_grad():
        for module_name, targets in masks.items():
            for target_name, mask in targets.items():
                if mask is None:
                    continue
                param = getattr(modules[module_name], target_name)
                if add:
                    param.sub_((mask != 1).to(param.dtype) * 1000)
                else:
                    param.mul_(mask)
    return clone


@pytest.mark.parametrize("model_name, pruner_cls, config_list", [
    ("resnet18", L1NormPruner, [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]),
    ("mobilenet_v2", LevelPruner, [{"op_types": ["Conv2d", "Linear", "BatchNorm2d"], "sparse_ratio": 0.7}]),
    ("transformer", L2NormPruner, [{"op_types": ["Linear", "Embedding"], "sparse_ratio": 0.4}]),
    ("resnet18", FPGMPruner, [{"op_names_re": ["layer2.*"], "op_types": ["Conv2d"], "sparse_ratio": 0.5}]),
], ids=["resnet18-l1", "mobilenet_v2-level-bn", "transformer-l2", "resnet18-fpgm"])
def test_wrapped_forward_equals_forward_with_masked_weights(model_name, pruner_cls, config_list):
    model = seeded_model(model_name)
    x = example_input(model_name)
    with torch.no_grad():
        unpruned = model(x)
    reference_params = {n: (p, p.detach().clone()) for n, p in model.named_parameters()}
    pruner = pruner_cls(model, config_list)
    with torch.no_grad():
        assert torch.equal(model(x), unpruned)  # wrapped, no masks yet: the original forward
    _, masks = pruner.compress()
    expected_model = _masked_copy(model, masks)
    with torch.no_grad():
        wrapped = model(x)
        expected = expected_model(x)
    assert torch.equal(wrapped, expected)
    assert not torch.equal(wrapped, unpruned)
    # the weights were neither copied nor modified: same Parameter objects, same values
    for name, param in model.named_parameters():
        original, values = reference_params[name]
        assert param is original
        assert torch.equal(param, values)
    pruner.unwrap_model()
    assert all("forward" not in m.__dict__ for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(x), unpruned)


def test_add_apply_method_and_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    config_list = [{"op_names": ["0"], "target_names": ["weight"], "sparse_ratio": 0.5},
                   {"op_names": ["2"], "target_names": ["weight"], "sparse_ratio": 0.5,
                    "target_settings": {"weight": {"apply_method": "add"}}}]
    pruner = LevelPruner(model, config_list)
    _, masks = pruner.compress()
    x = torch.randn(4, 8)
    expected = _masked_copy(_masked_copy(model, {"0": masks["0"]}), {"2": masks["2"]}, add=True)
    assert torch.equal(model(x), expected(x))
    # gradients reach the original parameters through the mask ('mul': zero where pruned)
    model(x).sum().backward()
    weight = model[0].weight
    assert weight.grad is not None
    assert bool((weight.grad[masks["0"]["weight"] == 0] == 0).all())
    assert bool((weight.grad[masks["0"]["weight"] == 1] != 0).any())


def test_state_dict_unchanged_while_wrapped():
    model = seeded_model("resnet18")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruner = L1NormPruner(model, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}])
    pruner.compress()
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_masks_follow_the_model_to_another_dtype():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 4))
    pruner = L1NormPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    _, masks = pruner.compress()
    assert masks["0"]["weight"].dtype == torch.float32
    model.double()
    x = torch.randn(3, 16, dtype=torch.float64)
    out = model(x)
    assert out.dtype == torch.float64
    expected = _masked_copy(model, {k: {t: m.double() for t, m in v.items()} for k, v in masks.items()})
    assert torch.equal(out, expected(x))


def test_compress_twice_and_get_masks():
    model = seeded_model("resnet18")
    pruner = LevelPruner(model, [{"op_names": ["layer1.0.conv1"], "sparse_ratio": 0.3}])
    before = pruner.get_masks()
    assert torch.equal(before["layer1.0.conv1"]["weight"], torch.ones(64, 64, 3, 3))
    assert before["layer1.0.conv1"]["bias"] is None
    _, first = pruner.compress()
    assert int((first["layer1.0.conv1"]["weight"] == 0).sum()) == int(64 * 64 * 9 * 0.3)
    _, second = pruner.compress()
    assert second["layer1.0.conv1"]["weight"] is not first["layer1.0.conv1"]["weight"]
    assert torch.equal(second["layer1.0.conv1"]["weight"], first["layer1.0.conv1"]["weight"])
    assert pruner.get_masks()["layer1.0.conv1"]["weight"] is second["layer1.0.conv1"]["weight"]


def test_update_masks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 2, bias=False))
    pruner = LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    pruner.compress()
    custom = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    pruner.update_masks({"0": {"weight": custom}})
    x = torch.randn(3, 4)
    assert torch.equal(model(x), x @ (model[0].weight * custom).t())
    with pytest.raises(swiftcompress.ShapeError):
        pruner.update_masks({"0": {"weight": torch.ones(3, 3)}})
    with pytest.raises(swiftcompress.StateError):
        pruner.update_masks({"1": {"weight": custom}})


def wrap_then_refuse(first_pruner_class, match: str):
    """Wraps a seeded resnet18's fc with `first_pruner_class`, checks that wrapping it again with
    L1NormPruner raises StateError matching `match`, unwraps the first. Returns (model, config_list)."""
    model = seeded_model("resnet18")
    config_list = [{"op_names": ["fc"], "sparse_ratio": 0.5}]
    first = first_pruner_class(model, config_list)
    with pytest.raises(swiftcompress.StateError, match=match):
        L1NormPruner(model, config_list)
    first.unwrap_model()
    return model, config_list


def test_wrapping_twice_is_an_error_and_unwrap_allows_it():
    model, config_list = wrap_then_refuse(L1NormPruner, "already wrapped")
    second = L1NormPruner(model, config_list)
    second.compress()
    second.unwrap_model()


def test_model_wrapped_by_nni_is_refused():
    from nni.compression.pruning import L1NormPruner as NNIL1

    wrap_then_refuse(NNIL1, "NNI")


def test_shared_module_under_two_names():
    shared = nn.Linear(6, 6)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    pruner = L1NormPruner(model, [{"op_names": ["0"], "sparse_ratio": 0.5}])
    _, masks = pruner.compress()
    x = torch.randn(2, 6)
    expected = _masked_copy(model, masks)  # deepcopy keeps the sharing
    assert torch.equal(model(x), expected(x))
    pruner.unwrap_model()
    assert "forward" not in shared.__dict__


def test_deepcopy_of_a_wrapped_model_is_masked_and_independent():
    model = seeded_model("resnet18")
    pruner = L1NormPruner(model, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}])
    _, masks = pruner.compress()
    clone = copy.deepcopy(model)
    x = example_input("resnet18")
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(clone(x), expected)
        clone.layer1[0].conv1.weight.mul_(2)
        assert torch.equal(model(x), expected)
    pruner.unwrap_model()
    with torch.no_grad():
        assert torch.equal(clone(x), _masked_copy(clone, masks)(x))
    with pytest.raises(swiftcompress.StateError, match="copy of a wrapped model"):
        L1NormPruner(clone, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}])


def clone_unwrapped(model):
    """A deep copy of a model with the swiftcompress forwards (instance attributes) removed."""
    out = copy.deepcopy(model)
    for module in out.modules():
        module.__dict__.pop("forward", None)
    return out
