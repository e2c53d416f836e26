"""Automatic dependency groups, ModelSpeedup and count_flops_params (issue 14; docs/speedup.md).

The shrunk model must compute what the masked model computes with the removed channels at zero
(masks applied to the weights, and every removed channel zeroed at the output of the modules that
carry it: the reference below does that with forward hooks on a full-size copy); it must have
fewer parameters; its module attributes must match its tensors. Groups are compared with NNI 3.0's
``auto_set_denpendency_group_ids`` (its tracer patched by tests/nni_examples/nni_patches.py) as
partitions (NNI names groups with random uuids)."""
from __future__ import annotations

import copy
import json
import sys
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from swiftcompress import _core
from swiftcompress.pruning import L1NormPruner
from swiftcompress.speedup import ModelSpeedup
from swiftcompress.utils import (auto_set_dependency_group_ids, auto_set_denpendency_group_ids, count_flops_params,
                                 dependency_report)

torchvision = pytest.importorskip("torchvision")


def randomize_norms(model: nn.Module, seed: int = 1) -> nn.Module:
    """BatchNorm statistics and affine parameters away from the identity, so that outputs have
    scale ~1 in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return model.eval()


def masked_reference(model: nn.Module, masks: Dict[str, Dict[str, torch.Tensor]], speedup: ModelSpeedup):
    """A full-size copy with the masks applied and every removed channel zeroed after each conv /
    linear / norm call (from the plan's kept indices). Returns (copy, hooks)."""
    ref = copy.deepcopy(model)
    modules = dict(ref.named_modules())
    with torch.no_grad():
        for name, targets in masks.items():
            for target, mask in targets.items():
                if mask is not None:
                    getattr(modules[name], target).mul_(mask)
    graph = speedup.graph
    out = _core.graph_op_codes()["OUTPUT"]
    for name, indices in graph.module_nodes.items():
        kind = graph.kinds[indices[0]]
        if kind not in ("conv", "linear", "norm"):
            continue
        kept = _core.graph_plan(graph.handle, indices[0], out)
        if kept is None or isinstance(modules[name], nn.LayerNorm):  # LayerNorm channels are fixed
            continue

        def hook(module, args, output, kept=kept, kind=kind):
            dim = output.dim() - 1 if kind == "linear" else 1
            keep = torch.zeros(output.shape[dim])
            keep[kept] = 1
            view = [1] * output.dim()
            view[dim] = -1
            return output * keep.view(view)

        modules[name].register_forward_hook(hook)
    return ref


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def prune_and_speedup(model: nn.Module, x: torch.Tensor, config_list: List[Dict[str, Any]], ratio_check=True):
    """auto groups + L1NormPruner + ModelSpeedup; returns (masked reference, shrunk model, speedup, config)."""
    config = auto_set_denpendency_group_ids(model, config_list, x)
    pruner = L1NormPruner(model, config)
    _, masks = pruner.compress()
    pruner.unwrap_model()
    masks = {m: {t: v.clone() for t, v in ts.items() if v is not None} for m, ts in masks.items()}
    before = params(model)
    original = copy.deepcopy(model)
    speedup = ModelSpeedup(model, x, masks)
    speedup.speedup_model().eval()  # as NNI's, the rebuilt modules come back in training mode
    ref = masked_reference(original, masks, speedup)
    assert params(model) < before
    return ref, model, speedup, config


def assert_same_output(ref: nn.Module, shrunk: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        expected, got = ref(x), shrunk(x)
    scale = expected.abs().max().item()
    assert scale > 1e-3
    assert (expected - got).abs().max().item() < 1e-4 * scale


def check_attributes(model: nn.Module) -> None:
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            assert m.weight.shape[0] == m.out_channels and m.weight.shape[1] * m.groups == m.in_channels, name
        elif isinstance(m, nn.Linear):
            assert tuple(m.weight.shape) == (m.out_features, m.in_features), name
        elif isinstance(m, nn.BatchNorm2d):
            assert m.weight.shape[0] == m.num_features == m.running_mean.shape[0], name


# -- hand-built models: one per op kind ------------------------------------------------------------


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        a = F.relu(self.bn1(self.conv1(x)))
        b = self.bn2(self.conv2(a))
        return self.conv3(F.relu(a + b))


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 6, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(10)
        self.c = nn.Conv2d(10, 5, 1)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        left, right = torch.split(self.c(F.relu(self.bn(y))), [2, 3], dim=1)
        return torch.cat([left * 2, right], 1)


class Depthwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.expand = nn.Conv2d(3, 8, 1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.mid = nn.Conv2d(8, 8, 1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.project = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = F.relu(self.mid(F.relu(self.dw(F.relu(self.bn(self.expand(x)))))))
        return self.project(F.relu(self.grouped(y)))


class FlattenLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.bn = nn.BatchNorm2d(6)
        self.fc1 = nn.Linear(6 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = torch.flatten(F.relu(self.bn(self.conv(x))), 1)
        return self.fc2(F.relu(self.fc1(x)))


class Shuffle(nn.Module):
    """channel shuffle (view / transpose / view) between two convs, and a mean over space."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.a(x)
        n, c, h, w = y.size()
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.fc(F.relu(self.b(F.relu(y))).mean([2, 3]))


class ShuffleChunk(nn.Module):
    """ShuffleNetV2's stride-1 unit twice: chunk(2) -> (identity, conv branch) -> cat -> channel
    shuffle. chunk's items follow the input's size at run time, so both halves must keep the same
    count (torchvision's shufflenet_v2 broke on this before chunk had its own node)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.bn = nn.BatchNorm2d(8)
        self.b1 = nn.Conv2d(4, 4, 1)
        self.b2 = nn.Conv2d(4, 4, 1)
        self.d = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(4, 2)

    @staticmethod
    def shuffle(y):
        n, c, h, w = y.size()
        return y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    def forward(self, x):
        y = F.relu(self.bn(self.a(x)))
        for branch in (self.b1, self.b2):
            x1, x2 = y.chunk(2, dim=1)
            y = self.shuffle(torch.cat((x1, F.relu(branch(x2))), dim=1))
        return self.fc(F.relu(self.d(y)).mean([2, 3]))


class Tokens(nn.Module):
    """embedding -> linear -> GELU -> linear (+ residual) -> LayerNorm: the FFN hidden dim shrinks,
    the residual stream (through LayerNorm) does not."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.up = nn.Linear(8, 16)
        self.down = nn.Linear(16, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids):
        h = self.emb(ids)
        h = self.norm(h + self.down(F.gelu(self.up(h))))
        return self.head(h)


HAND_BUILT = {
    "residual": (Residual, (2, 3, 8, 8), ["Conv2d"]),
    "concat": (Concat, (2, 3, 8, 8), ["Conv2d"]),
    "depthwise": (Depthwise, (2, 3, 8, 8), ["Conv2d"]),
    "flatten_linear": (FlattenLinear, (2, 3, 6, 6), ["Conv2d", "Linear"]),
    "shuffle": (Shuffle, (2, 3, 4, 4), ["Conv2d"]),
    "shuffle_chunk": (ShuffleChunk, (2, 3, 4, 4), ["Conv2d"]),
}


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_hand_built_models_shrink_to_the_masked_output(name):
    cls, shape, types = HAND_BUILT[name]
    torch.manual_seed(0)
    model = randomize_norms(cls())
    x = torch.randn(*shape)
    exclude = {"flatten_linear": ["fc2"], "shuffle": [], "concat": [], "residual": ["conv3"], "depthwise": ["project"],
               "shuffle_chunk": []}
    config = [{"op_types": types, "sparse_ratio": 0.5, "exclude_op_names": exclude[name]}]
    ref, shrunk, _, _ = prune_and_speedup(model, x, config)
    check_attributes(shrunk)
    assert_same_output(ref, shrunk, x)


def test_tokens_model_shrinks_the_hidden_dim_only():
    torch.manual_seed(0)
    model = Tokens().eval()
    ids = torch.randint(0, 20, (2, 5))
    ref, shrunk, _, config = prune_and_speedup(model, ids, [{"op_names": ["up"], "sparse_ratio": 0.5}])
    assert shrunk.up.out_features == 8 and shrunk.down.in_features == 8 and shrunk.emb.embedding_dim == 8
    assert shrunk.norm.normalized_shape == (8,)
    assert_same_output(ref, shrunk, ids)


def test_residual_groups_plan_and_report_by_hand():
    torch.manual_seed(0)
    model = Residual().eval()
    x = torch.randn(1, 3, 8, 8)
    config = auto_set_denpendency_group_ids(model, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}], x)
    # conv1 and conv2 meet at `a + b`: one group; conv3 alone. Every conv gets block 1 (NNI).
    assert [c["op_names"] for c in config] == [["conv1"], ["conv2"], ["conv3"]]
    assert config[0]["dependency_group_id"] == config[1]["dependency_group_id"] != config[2]["dependency_group_id"]
    assert all(c["internal_metric_block"] == 1 and c["sparse_ratio"] == 0.5 for c in config)
    assert "op_types" not in config[0]
    assert auto_set_dependency_group_ids is auto_set_denpendency_group_ids
    report = dependency_report(model, x)
    assert report["groups"][0]["members"] == ["conv1", "conv2"] and report["groups"][0]["tied_by"] == ["add"]
    # the hand-made masks: conv1 prunes 0..3, conv2 prunes 2..5: only 2 and 3 go; conv3 reads 6 channels.
    w1, w2 = torch.ones(8, 3, 3, 3), torch.ones(8, 8, 3, 3)
    w1[:4] = 0
    w2[2:6] = 0
    masks = {"conv1": {"weight": w1, "bias": (w1.sum((1, 2, 3)) > 0).float()},
             "conv2": {"weight": w2, "bias": (w2.sum((1, 2, 3)) > 0).float()}}
    original = copy.deepcopy(model)
    speedup = ModelSpeedup(model, x, masks)
    speedup.speedup_model().eval()
    assert model.conv1.out_channels == 6 and model.conv2.out_channels == 6 and model.conv2.in_channels == 6
    assert model.bn1.num_features == 6 and model.conv3.in_channels == 6 and model.conv3.out_channels == 4
    nodes = {n["name"]: n for n in speedup.report["nodes"]}
    assert nodes["conv3"]["kept_input"] == [0, 1, 4, 5, 6, 7]
    assert_same_output(masked_reference(original, masks, speedup), model, x)


def test_masks_file_and_bad_masks(tmp_path: Path):
    torch.manual_seed(0)
    model = FlattenLinear().eval()
    x = torch.randn(1, 3, 6, 6)
    mask = torch.ones(16, 96)
    mask[::2] = 0
    path = tmp_path / "masks.pth"
    torch.save({"fc1": {"weight": mask}}, path)
    ModelSpeedup(model, x, str(path)).speedup_model()
    # fc1's bias has no mask: as NNI's ModelSpeedup, its pruned rows go with their bias.
    assert model.fc1.out_features == 8 and model.fc2.in_features == 8
    # A bias mask of ones keeps them.
    model = FlattenLinear().eval()
    ModelSpeedup(model, x, {"fc1": {"weight": mask, "bias": torch.ones(16)}}).speedup_model()
    assert model.fc1.out_features == 16
    with pytest.raises(KeyError, match="nope"):
        ModelSpeedup(model, x, {"nope": {"weight": mask}}).speedup_model()
    with pytest.raises(TypeError):
        ModelSpeedup(model, x, 3)


def test_speedup_leaves_modules_as_nni_rebuilds_them():
    # NNI 3.0's ModelSpeedup runs the model once in its constructor (one BatchNorm update in training
    # mode) and builds a new module for every traced Conv / BatchNorm / Linear call: in training mode,
    # num_batches_tracked 0. Values from NNI 3.0 on the same model: the harness's norm_pruning
    # script is bit-identical to NNI's only with both.
    torch.manual_seed(0)
    model = FlattenLinear().train()
    x = torch.randn(2, 3, 6, 6)
    expected = copy.deepcopy(model)
    with torch.no_grad():
        expected(x)  # the constructor's forward, in training mode
    ModelSpeedup(model, x, {"conv": {"weight": torch.ones(6, 3, 3, 3)}})
    assert torch.equal(model.bn.running_mean, expected.bn.running_mean) and int(model.bn.num_batches_tracked) == 1
    model.eval()
    ModelSpeedup(model, x, {"conv": {"weight": torch.ones(6, 3, 3, 3)}}).speedup_model()
    assert model.conv.training and model.bn.training and model.fc1.training and not model.training
    assert int(model.bn.num_batches_tracked) == 0 and torch.equal(model.bn.running_mean, expected.bn.running_mean)


def test_count_flops_params_by_hand():
    model = FlattenLinear()
    flops, total, results = count_flops_params(model, (1, 3, 6, 6), verbose=False)
    # conv 3->6 k3 on a 4x4 output: 6*16*9*3 = 2592 FLOPs, 6*27+6 = 168 params;
    # fc1 96->16: 1536 FLOPs, 1552 params; fc2 16->3: 48 FLOPs, 51 params (BatchNorm: not counted).
    assert [r["name"] for r in results] == ["conv", "fc1", "fc2"]
    assert [r["flops"] for r in results] == [2592, 1536, 48] and [r["params"] for r in results] == [168, 1552, 51]
    assert (flops, total) == (4176, 1771)
    assert results[0]["weight_shape"] == (6, 3, 3, 3) and results[1]["input_size"] == [1, 96]


def nni_partition(config: List[Dict[str, Any]]):
    groups: Dict[Any, set] = {}
    for c in config:
        if "dependency_group_id" in c:
            groups.setdefault(c["dependency_group_id"], set()).add(c["op_names"][0])
    return sorted(sorted(g) for g in groups.values())


def nni_auto():
    pytest.importorskip("nni")
    sys.path.insert(0, str(Path(__file__).parent / "nni_examples"))
    import nni_patches
    nni_patches.apply()
    from nni.compression.utils import auto_set_denpendency_group_ids as nni
    return nni


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_torchvision_models_groups_equal_nni_and_shrink(arch):
    torch.manual_seed(0)
    model = randomize_norms(getattr(torchvision.models, arch)())
    x = torch.randn(1, 3, 64, 64)
    config_list = [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = nni_auto()(model, copy.deepcopy(config_list), x)
    ref, shrunk, speedup, config = prune_and_speedup(model, x, config_list)
    assert nni_partition(config) == nni_partition(expected)
    assert {c["op_names"][0]: c.get("internal_metric_block") for c in config} == \
           {c["op_names"][0]: c.get("internal_metric_block") for c in expected}
    check_attributes(shrunk)
    assert_same_output(ref, shrunk, x)
    flops_after, params_after, _ = count_flops_params(shrunk, x, verbose=False)
    original = getattr(torchvision.models, arch)()
    flops_before, params_before, _ = count_flops_params(original, x, verbose=False)
    assert flops_after < flops_before and params_after < params_before


def test_transformer_encoder_shrinks_its_feed_forward():
    # fx traces nn.TransformerEncoder (its fast path off while tracing); attention stays opaque, the
    # residual stream is fixed by the LayerNorms, the feed-forward hidden dim (linear1 -> linear2) shrinks.
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    model = nn.Sequential(OrderedDict(encoder=nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                                      head=nn.Linear(16, 3))).eval()
    x = torch.randn(2, 5, 16)
    report = dependency_report(model, x)
    # layer 1's residual add (add_3) meets layer 0's linear2 output (through layer 0's norm2, fixed).
    assert [g for g in report["groups"] if len(g["members"]) > 1] == [
        {"group": 1, "members": ["encoder.layers.0.linear2", "encoder.layers.1.linear2"], "tied_by": ["add_3"]}]
    config = [{"op_names": ["encoder.layers.0.linear1", "encoder.layers.1.linear1"], "sparse_ratio": 0.5}]
    ref, shrunk, _, _ = prune_and_speedup(model, x, config)
    for i in range(2):
        assert shrunk.encoder.layers[i].linear1.out_features == 16 and shrunk.encoder.layers[i].linear2.in_features == 16
        assert shrunk.encoder.layers[i].linear2.out_features == 16
    assert_same_output(ref, shrunk, x)


def test_stochastic_depth_passes_channels():
    # torchvision's StochasticDepth (an fx-wrapped function) on a residual branch still ties the
    # branch's conv with the skip's producer, as NNI's tracer does (EfficientNet, ConvNeXt).
    from torchvision.ops import StochasticDepth

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 4, 1)
            self.b = nn.Conv2d(4, 4, 1)
            self.drop = StochasticDepth(0.2, "row")

        def forward(self, x):
            y = self.a(x)
            return self.drop(self.b(y)) + y

    report = dependency_report(Block().eval(), torch.randn(1, 3, 4, 4))
    assert [g["members"] for g in report["groups"]] == [["a", "b"]]


def test_random_descriptions_raise_or_analyse():
    # Hostile graph descriptions (random ops, inputs, shapes, attrs, masks) never crash the core: each
    # call either succeeds or raises the core's error naming the node.
    import random

    from swiftcompress.errors import SwiftCompressError
    rng = random.Random(5)
    ops = list(_core.graph_op_codes().values())
    for trial in range(300):
        g = _core.graph_create()
        count = 0
        for _ in range(rng.randint(1, 12)):
            inputs = [rng.randint(-1, count) for _ in range(rng.randint(0, 3))]
            shape = [rng.choice([0, 1, 2, 3, 4, 6, 8]) for _ in range(rng.randint(0, 5))]
            attrs = [rng.randint(-3, 9) for _ in range(rng.randint(0, 7))]
            try:
                _core.graph_add_node(g, f"n{count}", rng.choice(ops + [99]), inputs, shape, attrs)
                count += 1
            except (SwiftCompressError, IndexError, ValueError):
                pass
        for node in range(count):
            mask = torch.ones(rng.randint(0, 4), rng.randint(1, 4))
            try:
                _core.graph_set_mask(g, node, (mask.data_ptr(), 0, mask.shape, mask.stride()), None)
            except (SwiftCompressError, TypeError, ValueError):
                pass
        _core.graph_groups(g)
        for node in range(count):
            _core.graph_plan(g, node, 0)
            _core.graph_plan(g, node, 1)
            _core.graph_shrunk_attrs(g, node)
        json.loads(_core.graph_report(g))
        _core.graph_cost(g)
        with pytest.raises(SwiftCompressError):
            _core.graph_plan(g, count, 0)


# -- attention heads -----------------------------------------------------------------------------


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Hugging Face Llama's repeat_kv, written with fx-traceable size reads."""
    if n_rep == 1:
        return x
    b, h, s, d = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    return x[:, :, None, :, :].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


class Attention(nn.Module):
    """Llama-style attention: q / k / v viewed (b, t, -1, head_dim); grouped-query attention through
    repeat_kv (``gqa="repeat"``) or SDPA's enable_gqa (``gqa="sdpa"``); ``constant_heads`` views
    with the head count as a constant, as nanoGPT does."""

    def __init__(self, dim=16, heads=4, kv_heads=2, gqa="repeat", constant_heads=False) -> None:
        super().__init__()
        self.num_heads, self.num_key_value_heads, self.head_dim = heads, kv_heads, dim // heads
        self.gqa, self.constant_heads = gqa, constant_heads
        self.q_proj = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, dim, bias=False)

    def forward(self, x):
        b, t = x.shape[0], x.shape[1]
        if self.constant_heads:
            q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
            k = self.k_proj(x).view(b, t, self.num_key_value_heads, self.head_dim).transpose(1, 2)
            v = self.v_proj(x).view(b, t, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        else:
            q = self.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            k = self.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            v = self.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        if self.gqa == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:
            n_rep = self.num_heads // self.num_key_value_heads
            o = F.scaled_dot_product_attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), is_causal=True)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))


class AttentionBlock(nn.Module):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.attn = Attention(**kwargs)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(x + self.attn(x))


def head_masks(q_heads, kv_heads, heads=4, kv=2, head_dim=4) -> Dict[str, Dict[str, torch.Tensor]]:
    """Weight masks pruning whole query heads of q_proj and key / value heads of k_proj and v_proj."""
    def rows(count, pruned):
        m = torch.ones(count * head_dim, 16)
        for h in pruned:
            m[h * head_dim:(h + 1) * head_dim] = 0
        return m
    return {"attn.q_proj": {"weight": rows(heads, q_heads)}, "attn.k_proj": {"weight": rows(kv, kv_heads)},
            "attn.v_proj": {"weight": rows(kv, kv_heads)}}


@pytest.mark.parametrize("gqa", ["repeat", "sdpa"])
def test_attention_removes_whole_key_value_groups(gqa):
    # Key / value head 1 and its query heads 2 and 3 pruned: q_proj keeps 8 rows, k_proj and v_proj
    # 4, o_proj reads 8; the module's head counts follow; the output is the masked model's.
    torch.manual_seed(0)
    model = AttentionBlock(gqa=gqa).eval()
    x = torch.randn(2, 5, 16)
    masks = head_masks([2, 3], [1])
    original = copy.deepcopy(model)
    speedup = ModelSpeedup(model, x, masks)
    speedup.speedup_model().eval()
    ref = masked_reference(original, masks, speedup)
    attn = model.attn
    assert (attn.q_proj.out_features, attn.k_proj.out_features, attn.v_proj.out_features) == (8, 4, 4)
    assert attn.o_proj.in_features == 8 and tuple(attn.o_proj.weight.shape) == (16, 8)
    assert (attn.num_heads, attn.num_key_value_heads, attn.head_dim) == (2, 1, 4)
    assert torch.equal(attn.q_proj.weight, original.attn.q_proj.weight[:8])
    assert torch.equal(attn.o_proj.weight, original.attn.o_proj.weight[:, :8])
    assert_same_output(ref, model, x)


def test_attention_keeps_heads_it_cannot_remove():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    # Query head 3 alone: head 2 reads the same key / value head, which stays, so q keeps head 3's
    # rows (zero) and nothing is removed.
    model = AttentionBlock().eval()
    masks = head_masks([3], [])
    ModelSpeedup(model, x, masks).speedup_model()
    assert model.attn.q_proj.out_features == 16 and model.attn.num_heads == 4
    # Heads given as constants in the views (nanoGPT's view(b, t, self.n_head, d)): the view would
    # break with fewer heads, so all stay even with every mask pruning group 1.
    model = AttentionBlock(constant_heads=True).eval()
    original = copy.deepcopy(model)
    masks = head_masks([2, 3], [1])
    speedup = ModelSpeedup(model, x, masks)
    speedup.speedup_model().eval()
    assert model.attn.q_proj.out_features == 16 and model.attn.k_proj.out_features == 8
    assert_same_output(masked_reference(original, masks, speedup), model, x)


def test_attention_groups_q_k_v_of_multi_head_attention():
    # Without grouped queries q, k and v are tied element by element by the attention: one group.
    torch.manual_seed(0)
    model = AttentionBlock(heads=4, kv_heads=4).eval()
    report = dependency_report(model, torch.randn(2, 5, 16))
    groups = [g for g in report["groups"] if len(g["members"]) > 1]
    assert groups == [{"group": groups[0]["group"], "members": ["attn.q_proj", "attn.k_proj", "attn.v_proj"],
                       "tied_by": ["scaled_dot_product_attention"]}]


class ConvNeXtStage(nn.Module):
    """ConvNeXt's stem and one block: a LayerNorm2d written as permute -> F.layer_norm -> permute,
    a depthwise conv, and a residual add around Linear layers."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, stride=2)
        self.norm_weight = nn.Parameter(torch.ones(8))
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.up = nn.Linear(8, 16)
        self.down = nn.Linear(16, 8)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)
        x = F.layer_norm(x, (8,), self.norm_weight).permute(0, 3, 1, 2)
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.down(F.gelu(self.up(y))).permute(0, 3, 1, 2)
        return (x + y).mean([2, 3])


def test_functional_layer_norm_passes_channels_as_nni_ties_them():
    # NNI 3.0's helper puts stem, dw and down in one group on torchvision's convnext_tiny (checked:
    # 23 groups, equal to ours); here by hand: the LayerNorm passes the stem's channels to the
    # depthwise conv (output j = input j) and to the residual add with down's output.
    report = dependency_report(ConvNeXtStage().eval(), torch.randn(1, 3, 8, 8))
    groups = [g["members"] for g in report["groups"]]
    assert sorted(groups) == [["stem", "dw", "down"], ["up"]]


def test_random_attention_masks_shrink_to_the_masked_output():
    # Random head layouts (query heads, key / value heads, repeat_kv or enable_gqa, constant or
    # computed head counts) and random row masks on q / k / v (whole heads, single rows or nothing):
    # whatever the core removes, the shrunk model computes the masked model (removed channels at
    # zero) and its head counts match its projections.
    import random
    rng = random.Random(3)
    x = torch.randn(2, 5, 16)
    for trial in range(16):
        heads = rng.choice([2, 4, 8])
        kv = rng.choice([h for h in (2, 4, 8) if h <= heads and heads % h == 0])  # kv 1: removing it removes all
        torch.manual_seed(trial)
        model = AttentionBlock(heads=heads, kv_heads=kv, gqa=rng.choice(["repeat", "sdpa"]),
                               constant_heads=rng.random() < 0.25).eval()
        hd, per = 16 // heads, heads // kv
        rows = {"q_proj": torch.ones(heads * hd, 16), "k_proj": torch.ones(kv * hd, 16), "v_proj": torch.ones(kv * hd, 16)}
        for g in range(kv):  # a whole key / value group (its query heads too), or not
            if rng.random() < 0.5:
                for name in ("k_proj", "v_proj"):
                    rows[name][g * hd:(g + 1) * hd] = 0
                rows["q_proj"][g * per * hd:(g + 1) * per * hd] = 0
        for m in rows.values():  # noise: single rows and single heads
            for row in range(m.shape[0]):
                if rng.random() < 0.08:
                    m[row] = 0
            for h in range(m.shape[0] // hd):
                if rng.random() < 0.15:
                    m[h * hd:(h + 1) * hd] = 0
        masks = {f"attn.{name}": {"weight": m} for name, m in rows.items()}
        original = copy.deepcopy(model)
        speedup = ModelSpeedup(model, x, masks)
        speedup.speedup_model().eval()
        attn = model.attn
        assert attn.q_proj.out_features == attn.num_heads * attn.head_dim
        assert attn.k_proj.out_features == attn.num_key_value_heads * attn.head_dim == attn.v_proj.out_features
        assert attn.o_proj.in_features == attn.q_proj.out_features
        assert_same_output(masked_reference(original, masks, speedup), model, x)
