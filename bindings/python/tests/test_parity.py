"""The same masks as NNI 3.0, for the four pruners, on torchvision ResNet-18/50, MobileNetV2 and a
transformer encoder, with tie-free weights (conftest.tie_free_).

Every case runs NNI 3.0 (`nni.compression.pruning.<Pruner>(model, config_list).compress()`) on a deep
copy of the model and swiftcompress on the model, and requires every mask to be equal: same
modules, same targets (None for a `bias=False` layer on both sides), same shape, dtype and values.

LevelPruner cases run in float32 (|w| involves no arithmetic). The norm and FPGM cases run on the
same values converted to float64: NNI computes norms with float32 sums, which misrank blocks whose
exact norms differ by less than the rounding (seen on MobileNetV2's classifier: rows 482 and 645,
L1 norms 12.0892540 and 12.0892468 exactly, ranked the other way round by NNI's float32 sum), while
the core sums in double. In float64 NNI's ranking is the exact one.
"""
from __future__ import annotations

import pytest
import torch

from conftest import mask_diff, nni_masks, our_masks, seeded_model

CONV_LINEAR = ["Conv2d", "Linear"]

# (id, model, pruner, config_list)
CASES = [
    # per-target ratio, every pruner, every model
    *[(f"level_0.8_{m}", m, "LevelPruner", [{"op_types": CONV_LINEAR, "sparse_ratio": 0.8}])
      for m in ("resnet18", "resnet50", "mobilenet_v2", "transformer")],
    *[(f"l1_0.5_{m}", m, "L1NormPruner", [{"op_types": CONV_LINEAR, "sparse_ratio": 0.5}])
      for m in ("resnet18", "resnet50", "mobilenet_v2", "transformer")],
    *[(f"l2_0.5_{m}", m, "L2NormPruner", [{"op_types": CONV_LINEAR, "sparse_ratio": 0.5}])
      for m in ("resnet18", "resnet50", "mobilenet_v2", "transformer")],
    # FPGM: NNI's float64 FPGM takes minutes on all of ResNet-18/50 / MobileNetV2 (O(rows^2) in Python
    # loops), so on those models a part
    ("fpgm_0.5_transformer", "transformer", "FPGMPruner", [{"op_types": CONV_LINEAR, "sparse_ratio": 0.5}]),
    ("fpgm_0.5_resnet18_layer1_3", "resnet18", "FPGMPruner",
     [{"op_types": CONV_LINEAR, "exclude_op_names_re": [r"layer4\."], "sparse_ratio": 0.5}]),
    ("fpgm_0.5_resnet50_layer1_2", "resnet50", "FPGMPruner",
     [{"op_types": ["Conv2d"], "op_names_re": [r"layer[12]\."], "sparse_ratio": 0.5}]),
    ("fpgm_0.6_mobilenet_v2_features_1_6", "mobilenet_v2", "FPGMPruner",
     [{"op_types": ["Conv2d"], "op_names_re": [r"features\.[1-6]\."], "sparse_ratio": 0.6}]),
    # global groups (level: any block sizes; norms: equal block sizes). NNI ranks a global group with a
    # Python heap walk over every metric value, so the level groups are kept to ~1M values.
    ("level_global_0.8_resnet18", "resnet18", "LevelPruner",
     [{"op_types": ["Conv2d"], "op_names_re": [r"layer[12]\."], "sparse_ratio": 0.8, "global_group_id": "all"}]),
    ("level_global_0.7_resnet50", "resnet50", "LevelPruner",
     [{"op_types": ["Conv2d"], "op_names_re": [r"layer1\."], "sparse_ratio": 0.7, "global_group_id": 1}]),
    ("level_global_0.5_transformer", "transformer", "LevelPruner",
     [{"op_names_re": [r"encoder\.layers\.0\.linear", "head"], "target_names": ["weight"], "sparse_ratio": 0.5,
       "global_group_id": "enc0"}]),
    ("l2_global_equal_blocks_resnet50", "resnet50", "L2NormPruner",
     [{"op_names_re": [r"layer3\.\d+\.conv2"], "sparse_ratio": 0.5, "global_group_id": "g"}]),
    ("l1_global_equal_blocks_transformer", "transformer", "L1NormPruner",
     [{"op_names_re": [r"encoder\.layers\.\d+\.linear1"], "sparse_ratio": 0.3, "global_group_id": "ff"}]),
    # min / max bounds on the ratio
    ("level_max_bound_mobilenet_v2", "mobilenet_v2", "LevelPruner",
     [{"op_types": ["Conv2d"], "sparse_ratio": 0.9, "max_sparse_ratio": 0.5}]),
    ("l1_min_bound_resnet18", "resnet18", "L1NormPruner",
     [{"op_types": ["Conv2d"], "sparse_ratio": 0.1, "min_sparse_ratio": 0.4}]),
    # dependency groups (the residual add of a bottleneck), with and without internal blocks
    ("l1_dependency_resnet50", "resnet50", "L1NormPruner",
     [{"op_names": ["layer1.0.conv3", "layer1.0.downsample.0"], "sparse_ratio": 0.5,
       "dependency_group_id": "add1"},
      {"op_names": ["layer2.0.conv3", "layer2.0.downsample.0"], "sparse_ratio": 0.25,
       "dependency_group_id": "add2", "internal_metric_block": 4}]),
    ("l2_dependency_transformer", "transformer", "L2NormPruner",
     [{"op_names": ["encoder.layers.0.linear2", "encoder.layers.1.linear2"], "sparse_ratio": 0.5,
       "dependency_group_id": 7}]),
    # align: a BatchNorm weight to its conv, and Linear biases to their weights (the template)
    ("l1_align_bn_resnet18", "resnet18", "L1NormPruner",
     [{"op_names": ["layer1.0.conv1"], "sparse_ratio": 0.5},
      {"op_names": ["layer1.0.bn1"], "target_names": ["weight"],
       "target_settings": {"weight": {"align": {"module_name": "layer1.0.conv1", "target_name": "weight",
                                                "dims": [0]}}}}]),
    ("level_align_bias_transformer", "transformer", "LevelPruner",
     [{"op_types": ["Linear"], "sparse_ratio": 0.6}]),
    # granularity: blocks, in_channel
    ("l1_block_16x16_transformer", "transformer", "L1NormPruner",
     [{"op_names_re": [r"encoder\.layers\.\d+\.linear[12]"], "target_names": ["weight"], "sparse_ratio": 0.5,
       "granularity": [16, 16]}]),
    ("l2_block_conv_resnet18", "resnet18", "L2NormPruner",
     [{"op_types": ["Conv2d"], "sparse_ratio": 0.5, "granularity": [4, 1, -1, -1]}]),
    ("level_block_2x4_mobilenet_v2", "mobilenet_v2", "LevelPruner",
     [{"op_names": ["classifier.1"], "sparse_ratio": 0.7, "granularity": [2, 4]}]),
    ("l1_in_channel_resnet18", "resnet18", "L1NormPruner",
     [{"op_types": ["Conv2d"], "exclude_op_names": ["conv1"], "sparse_ratio": 0.5, "granularity": "in_channel"}]),
    # legacy (v2) lists
    ("legacy_sparsity_per_layer_resnet18", "resnet18", "L1NormPruner",
     [{"sparsity_per_layer": 0.5, "op_types": ["Conv2d"]}, {"exclude": True, "op_names": ["conv1"]}]),
    ("legacy_sparsity_level_resnet18", "resnet18", "LevelPruner",
     [{"sparsity": 0.7, "op_types": ["Conv2d", "Linear"]}]),
]


@pytest.mark.parametrize("case_id, model_name, pruner, config_list", CASES, ids=[c[0] for c in CASES])
def test_masks_equal_nni(case_id, model_name, pruner, config_list):
    model = seeded_model(model_name)
    if pruner != "LevelPruner":
        model = model.double()
    expected = nni_masks(pruner, model, config_list)
    _, masks = our_masks(pruner, model, config_list)
    assert mask_diff(masks, expected) == {}
    assert any(m is not None and bool((m == 0).any()) for t in masks.values() for m in t.values())


def _between(values, quantile):
    """A threshold halfway between two neighbouring metric values, so no value sits on it."""
    ordered = values.flatten().double().sort().values
    k = int(ordered.numel() * quantile)
    return float((ordered[k - 1] + ordered[k]) / 2)


def _threshold_at(model, quantile):
    return _between(torch.cat([p.detach().abs().flatten() for n, p in model.named_parameters()
                               if n.endswith("weight") and p.dim() == 4]), quantile)


@pytest.mark.parametrize("bounds", [{}, {"max_sparse_ratio": 0.3}, {"min_sparse_ratio": 0.7}],
                         ids=["plain", "max_fallback", "min_fallback"])
def test_threshold_equal_nni(bounds):
    # The threshold is the median |w| of all conv weights, so per-layer sparsities spread around 0.5
    # and the bounds force the ratio fallback on some layers, not all.
    model = seeded_model("resnet18")
    config_list = [{"op_types": ["Conv2d"], "sparse_threshold": _threshold_at(model, 0.5), **bounds}]
    expected = nni_masks("LevelPruner", model, config_list)
    _, masks = our_masks("LevelPruner", model, config_list)
    assert mask_diff(masks, expected) == {}
    sparsities = [float((m["weight"] == 0).float().mean()) for m in masks.values()]
    if "max_sparse_ratio" in bounds:
        assert max(sparsities) <= 0.3 + 1e-6
    if "min_sparse_ratio" in bounds:
        assert min(sparsities) >= 0.7 - 1e-3


def test_norm_threshold_equal_nni():
    model = seeded_model("transformer").double()
    norms = torch.cat([p.detach().norm(p=2, dim=1) for n, p in model.named_parameters()
                       if n.endswith("linear1.weight")])
    config_list = [{"op_names_re": [r".*linear1"], "sparse_threshold": _between(norms, 0.5)}]
    expected = nni_masks("L2NormPruner", model, config_list)
    _, masks = our_masks("L2NormPruner", model, config_list)
    assert mask_diff(masks, expected) == {}


def test_absent_bias_is_none_like_nni():
    model = seeded_model("resnet18")
    config_list = [{"op_types": CONV_LINEAR, "sparse_ratio": 0.5}]
    expected = nni_masks("LevelPruner", model, config_list)
    _, masks = our_masks("LevelPruner", model, config_list)
    assert mask_diff(masks, expected) == {}
    assert expected["conv1"]["bias"] is None and masks["conv1"]["bias"] is None
    assert masks["fc"]["bias"].shape == (1000,)
    assert list(masks) == [n for n, m in model.named_modules() if type(m).__name__ in CONV_LINEAR]
