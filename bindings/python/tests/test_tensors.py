"""Tensors as PyTorch lays them out: strided CPU tensors go to the core as they are (strides in
elements) and are never misread; other dtypes, layouts and devices get their documented treatment."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import swiftcompress
from conftest import seeded_model
from swiftcompress.pruning import FPGMPruner, L1NormPruner, L2NormPruner, LevelPruner

PRUNERS = [LevelPruner, L1NormPruner, L2NormPruner, FPGMPruner]
CONFIG = [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.6}]


def _compress(pruner_cls, model, config_list=CONFIG):
    pruner = pruner_cls(model, config_list)
    _, masks = pruner.compress()
    pruner.unwrap_model()
    return masks


def _assert_same_values(masks, reference, dtype=None):
    assert list(masks) == list(reference)
    for module, targets in masks.items():
        for target, mask in targets.items():
            ref = reference[module][target]
            if mask is None:
                assert ref is None
                continue
            assert mask.dtype == (dtype or ref.dtype)
            assert torch.equal(mask.to(ref.dtype), ref), f"{module}.{target}"


@pytest.mark.parametrize("pruner_cls", PRUNERS, ids=lambda c: c.__name__)
def test_channels_last_weights(pruner_cls):
    reference = _compress(pruner_cls, seeded_model("resnet18"))
    model = seeded_model("resnet18").to(memory_format=torch.channels_last)
    assert not model.layer1[0].conv1.weight.is_contiguous()
    masks = _compress(pruner_cls, model)
    _assert_same_values(masks, reference)
    # the mask has the weight's layout (torch.empty_like), filled through its strides
    mask = masks["layer1.0.conv1"]["weight"]
    assert mask.stride() == model.layer1[0].conv1.weight.stride()


@pytest.mark.parametrize("pruner_cls", PRUNERS, ids=lambda c: c.__name__)
def test_transposed_and_sliced_linear_weights(pruner_cls):
    torch.manual_seed(3)
    dense = nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 8))
    reference = _compress(pruner_cls, dense, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    strided = nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 8))
    with torch.no_grad():
        # layer 0: a transposed layout (strides (1, 16)); layer 2: every other column of a wider buffer
        strided[0].weight = nn.Parameter(dense[0].weight.detach().t().contiguous().t())
        wide = torch.zeros(8, 32)
        wide[:, ::2] = dense[2].weight
        strided[2].weight = nn.Parameter(wide[:, ::2])
        strided[0].bias.copy_(dense[0].bias)
        strided[2].bias.copy_(dense[2].bias)
    assert strided[0].weight.stride() == (1, 16) and strided[2].weight.stride() == (32, 2)
    masks = _compress(pruner_cls, strided, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    _assert_same_values(masks, reference)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize("pruner_cls", [LevelPruner, L1NormPruner], ids=lambda c: c.__name__)
def test_other_float_dtypes(pruner_cls, dtype):
    # The values of a float16 / bfloat16 model are exactly representable in float32, so the float32
    # model holding the same values must get the same masks (in the target's dtype).
    low = seeded_model("resnet18").to(dtype)
    same_values = seeded_model("resnet18").to(dtype).float()
    masks = _compress(pruner_cls, low)
    reference = _compress(pruner_cls, same_values)
    _assert_same_values(masks, reference, dtype=dtype)


def test_unsupported_dtype_is_a_type_error():
    model = nn.Sequential(nn.Linear(3, 3))
    model[0].weight = nn.Parameter(torch.ones(3, 3, dtype=torch.int32), requires_grad=False)
    with pytest.raises(swiftcompress.DtypeError, match=r"0\.weight: dtype torch.int32") as info:
        LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    assert isinstance(info.value, TypeError)


def test_meta_tensors_are_a_type_error():
    model = nn.Sequential(nn.Linear(4, 4, device="meta"))
    with pytest.raises(swiftcompress.TensorError, match="meta") as info:
        L1NormPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    assert isinstance(info.value, TypeError)


def test_sparse_layout_is_a_type_error():
    model = nn.Sequential(nn.Linear(4, 4))
    model[0].weight = nn.Parameter(torch.eye(4).to_sparse(), requires_grad=False)
    with pytest.raises(swiftcompress.TensorError, match="layout"):
        LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_weights_are_ranked_on_a_cpu_copy():
    reference = _compress(L1NormPruner, seeded_model("resnet18"))
    model = seeded_model("resnet18").cuda()
    masks = _compress(L1NormPruner, model)
    mask = masks["layer1.0.conv1"]["weight"]
    assert mask.device.type == "cuda"
    _assert_same_values({k: {t: (m.cpu() if m is not None else None) for t, m in v.items()}
                         for k, v in masks.items()}, reference)


def test_masks_are_new_tensors_and_weights_are_untouched():
    model = seeded_model("resnet18")
    weight = model.fc.weight
    before = weight.detach().clone()
    pointer = weight.data_ptr()
    masks = _compress(LevelPruner, model)
    mask = masks["fc"]["weight"]
    assert weight.data_ptr() == pointer and torch.equal(weight, before)
    assert mask.data_ptr() != pointer and not mask.requires_grad
    assert mask.shape == weight.shape and mask.dtype == weight.dtype
    assert set(mask.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_low_precision_ties_prune_exactly_the_ratio(dtype):
    # float16 / bfloat16 values repeat, so several |w| sit on the selection boundary: exactly
    # int(numel * ratio) are pruned all the same, the lower flat indices first (as in float32).
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(300, 64, bias=False)).to(dtype)
    reference = nn.Sequential(nn.Linear(300, 64, bias=False))
    with torch.no_grad():
        reference[0].weight.copy_(model[0].weight.float())
    config_list = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]
    mask = _compress(LevelPruner, model, config_list)["0"]["weight"]
    expected = _compress(LevelPruner, reference, config_list)["0"]["weight"]
    assert int((expected == 0).sum()) == 9600
    assert int((mask == 0).sum()) == 9600
    assert torch.equal(mask.float(), expected)
