"""Wrapped models behave (issue 12): torch.export, mask save / restore, plain checkpoints, copies,
print(model), and the torch formulation of fake quantization against the core's."""
from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn as nn

import swiftcompress
from swiftcompress import _core
from swiftcompress.pruning import L1NormPruner, LevelPruner, load_masks, save_masks
from swiftcompress.quantization import PtqQuantizer, QATQuantizer
from swiftcompress.quantization._torch import _TorchFakeQuantize, torch_fake_quantize


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def net(seed: int = 0) -> Net:
    torch.manual_seed(seed)
    return Net().eval()


def data(seed: int = 1, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


QUANT = [{"op_types": ["Conv2d", "Linear"], "target_names": ["_input_", "weight", "bias", "_output_"],
          "quant_dtype": "int8"}]
PRUNE = [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]


def masked(model: nn.Module, masks, add: bool = False) -> nn.Module:
    """A plain copy of a pruned ``model`` (no swiftcompress forward) with weight := weight * mask (or
    weight - 1000 where pruned). Quantization hooks would stay: not for quantized models."""
    clone = copy.deepcopy(model)
    for module in clone.modules():
        module.__dict__.pop("forward", None)
        module.__dict__.pop("extra_repr", None)
    modules = dict(clone.named_modules())
    with torch.no_grad():
        for module_name, targets in masks.items():
            for target_name, mask in targets.items():
                if mask is not None:
                    param = getattr(modules[module_name], target_name)
                    param.sub_((mask != 1).to(param.dtype) * 1000) if add else param.mul_(mask)
    return clone


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.view({torch.float32: torch.int32, torch.float64: torch.int64}.get(t.dtype, torch.int16))


# -- 1. torch.export ---------------------------------------------------------------------------

@pytest.mark.parametrize("strict", [False, True], ids=["non-strict", "strict"])
def test_export_of_a_pruned_model(strict: bool) -> None:
    model, x = net(), data()
    pruner = L1NormPruner(model, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5},
                                  {"op_names": ["fc"], "target_names": ["weight"], "sparse_ratio": 0.3,
                                   "target_settings": {"weight": {"apply_method": "add"}}}])
    _, masks = pruner.compress()
    program = torch.export.export(model, (x,), strict=strict)
    with torch.no_grad():
        wrapped = model(x)
        exported = program.module()(x)
    assert torch.equal(exported, wrapped)
    assert torch.equal(wrapped, masked(masked(model, {"conv": masks["conv"]}), {"fc": masks["fc"]}, add=True)(x))
    # the masking is in the program: a new input gives the wrapped forward's output too
    with torch.no_grad():
        assert torch.equal(program.module()(data(7)), model(data(7)))
    # the weights are the program's parameters under the plain model's names
    assert sorted(program.state_dict) == sorted(k for k in model.state_dict())


def test_export_of_a_model_whose_root_is_an_ancestor_wrapper() -> None:
    # a transformer layer: the pruner wraps the layer and the root as ancestors of the linears
    torch.manual_seed(0)
    model = nn.Sequential(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0)).eval()
    LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.6}]).compress()
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(3))
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(program.module()(x), model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("strict", [False, True], ids=["non-strict", "strict"])
def test_export_of_a_ptq_model(strict: bool) -> None:
    model, x = net(), data()
    plain = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, QUANT)
    quantizer.calibrate([x, data(2)])
    quantizer.compress()
    program = torch.export.export(model, (x,), strict=strict)
    with torch.no_grad():
        wrapped = model(x)
        for y in (x, data(5)):
            assert torch.equal(program.module()(y), model(y))
    assert not torch.equal(wrapped, plain(x))
    # tracing fed no observer: the scales are unchanged
    after = quantizer.get_calibration_config()
    assert torch.equal(after["conv"]["_input_0"]["tracked_max"], torch.maximum(x.amax(), data(2).amax()))


def test_export_of_a_ptq_model_per_channel_int4() -> None:
    model, x = net(), data()
    config = [{"op_types": ["Conv2d"], "target_names": ["weight", "_output_"], "quant_dtype": "int4",
               "granularity": "per_channel"},
              {"op_types": ["Linear"], "target_names": ["weight"], "quant_dtype": "uint8", "quant_scheme": "affine",
               "granularity": [1, 16]}]
    quantizer = PtqQuantizer(model, config)
    quantizer.calibrate([x])
    quantizer.compress()
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.equal(program.module()(x), model(x))


def test_export_of_a_qat_model() -> None:
    model, x = net(), data(n=4)
    quantizer = QATQuantizer(model, QUANT, quant_start_step=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for step in range(4):
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        quantizer.step()
        if step == 0:  # before the start step: nothing is quantized, the program is the plain one
            model.eval()
            with torch.no_grad():
                assert torch.equal(torch.export.export(model, (x,)).module()(x), masked(model, {})(x))
            model.train()
    model.eval()
    for strict in (False, True):
        program = torch.export.export(model, (x,), strict=strict)
        with torch.no_grad():
            assert torch.equal(program.module()(x), model(x))
            assert torch.equal(program.module()(data(9, n=4)), model(data(9, n=4)))


def test_torch_formulation_equals_the_core_bit_for_bit() -> None:
    """The formulation used while tracing and in copies, against the core's fake_quantize and
    gradient mask: dtypes, schemes, granularities, ties, clamping, NaN and -0.0."""
    cases = [{"quant_dtype": "int8"}, {"quant_dtype": "uint8", "quant_scheme": "affine"},
             {"quant_dtype": "int4", "granularity": "per_channel"},
             {"quant_dtype": "uint4", "quant_scheme": "affine", "granularity": [2, 4]}]
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        for settings in cases:
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(8, 6)).to(dtype)
            quantizer = PtqQuantizer(model, [dict({"op_types": ["Linear"], "target_names": ["weight"]}, **settings)])
            quantizer.compress()
            target = quantizer._targets[0]
            frozen = quantizer._frozen(target)
            scale = frozen.scale.flatten()[0]
            x = (torch.randn(6, 8) * 2).to(dtype)
            x[0] = ((torch.arange(8) - 4 + 0.5) * scale).to(dtype)  # exact ties: round half even
            x[1, :3] = torch.tensor([float("nan"), -0.0, 1e4])
            x[2, :2] = torch.tensor([-0.1, -1e4]) * scale.to(dtype)
            core, mask = quantizer._fake_quantize(target, x, _core.SC_APPLY_QAT_CLAMP_ROUND, True)
            ours = torch_fake_quantize(x, frozen)
            nan = torch.isnan(core)
            assert torch.equal(nan, torch.isnan(ours)) and int(nan.sum()) == 1
            assert torch.equal(bits(core)[~nan], bits(ours)[~nan]), (dtype, settings)
            leaf = x.clone().requires_grad_()
            _TorchFakeQuantize.apply(leaf, frozen._replace(qat=True)).backward(torch.ones_like(x))
            assert torch.equal(leaf.grad, mask), (dtype, settings)
            assert float(mask.sum()) < mask.numel()  # something was clamped


# -- 2. masks: save and restore, plain checkpoints --------------------------------------------

def test_save_and_load_masks_on_a_fresh_model(tmp_path) -> None:
    model, x = net(), data()
    pruner = L1NormPruner(model, PRUNE)
    _, masks = pruner.compress()
    path = tmp_path / "masks.pt"
    save_masks(masks, path)
    fresh = net()  # the same weights, never pruned
    restored = L1NormPruner(fresh, PRUNE)
    loaded = load_masks(path)
    assert list(loaded) == ["conv", "fc"] and sorted(loaded["conv"]) == ["bias", "weight"]
    restored.update_masks(loaded)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
        assert torch.equal(fresh(x), masked(net(), masks)(x))
    for module_name, targets in masks.items():
        for target_name, mask in targets.items():
            assert torch.equal(restored.get_masks()[module_name][target_name], mask)
    # a plain torch.load reads the file too (the nested dict NNI's update_masks takes)
    assert torch.equal(torch.load(path, weights_only=True)["fc"]["weight"], masks["fc"]["weight"])
    buffer = io.BytesIO()
    save_masks({"fc": {"weight": masks["fc"]["weight"], "bias": None}}, buffer)
    buffer.seek(0)
    assert load_masks(buffer)["fc"]["bias"] is None
    torch.save([1, 2], tmp_path / "bad.pt")
    with pytest.raises(swiftcompress.InvalidArgumentError, match="load_masks: expected"):
        load_masks(tmp_path / "bad.pt")
    with pytest.raises(swiftcompress.InvalidArgumentError, match="fc.weight: expected a tensor or None, got str"):
        save_masks({"fc": {"weight": "x"}}, tmp_path / "x.pt")


@pytest.mark.parametrize("assign", [False, True], ids=["copy", "assign"])
def test_loading_a_plain_checkpoint_keeps_the_model_masked(assign: bool) -> None:
    model, x = net(), data()
    keys = list(model.state_dict())
    pruner = L1NormPruner(model, PRUNE)
    _, masks = pruner.compress()
    dense = net(seed=5).state_dict()  # other weights, no mask anywhere
    assert list(model.state_dict()) == keys  # the wrapped model's keys are the plain model's
    model.load_state_dict(dense, assign=assign)
    reference = net(seed=5)
    with torch.no_grad():
        assert torch.equal(model(x), masked(reference, masks)(x))
        assert not torch.equal(model(x), reference(x))
    assert torch.equal(model.conv.weight, dense["conv.weight"])  # the parameters hold the dense values


# -- 3. copies -----------------------------------------------------------------------------------

def test_copies_of_a_quantized_model_are_frozen_and_independent() -> None:
    model, x = net(), data()
    quantizer = PtqQuantizer(model, QUANT)
    uncompressed = copy.deepcopy(model)  # wrapped, nothing active yet: the plain forward
    quantizer.calibrate([x])
    with torch.no_grad():
        assert torch.equal(uncompressed(x), masked(model, {})(x))
    quantizer.compress()
    clone = copy.deepcopy(model)
    pickled = torch.load(io.BytesIO(_saved(model)), weights_only=False)
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(clone(x), expected) and torch.equal(pickled(x), expected)
        quantizer.calibrate([x * 3])  # the original's ranges widen; the copies keep theirs
        assert not torch.equal(model(x), expected)
        assert torch.equal(clone(x), expected) and torch.equal(pickled(x), expected)
    with pytest.raises(swiftcompress.StateError, match="copy of a quantized model"):
        PtqQuantizer(clone, QUANT)
    assert "copy of a PtqQuantizer model" in repr(clone.fc)


def test_copy_of_a_qat_model_stays_quantized() -> None:
    model, x = net(), data(n=4)
    quantizer = QATQuantizer(model, QUANT)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(2):
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        quantizer.step()
    model.eval()
    clone = copy.deepcopy(model)
    with torch.no_grad():
        assert torch.equal(clone(x), model(x))
    # the copy's gradient is the qat_clamp_round one: equal to the original's
    model(x).square().mean().backward()
    clone(x).square().mean().backward()
    assert torch.equal(clone.conv.weight.grad, model.conv.weight.grad)


def test_copies_of_a_pruned_model_stay_masked() -> None:
    model, x = net(), data()
    L1NormPruner(model, PRUNE).compress()
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(copy.deepcopy(model)(x), expected)
        assert torch.equal(torch.load(io.BytesIO(_saved(model)), weights_only=False)(x), expected)


def _saved(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    return buffer.getvalue()


# -- 4. print(model) and bypass -------------------------------------------------------------------

def test_print_shows_what_is_wrapped() -> None:
    model = net()
    plain = repr(model)
    pruner = L1NormPruner(model, [{"op_names": ["fc"], "target_names": ["weight"], "sparse_ratio": 0.5}])
    quantizer = PtqQuantizer(model, [{"op_names": ["fc"], "target_names": ["_input_", "weight"],
                                      "quant_dtype": "int8"}])
    assert repr(model.fc) == ("Linear(in_features=144, out_features=5, bias=True, [swiftcompress: pruned weight "
                              "(L1NormPruner); quantized weight, _input_0 (PtqQuantizer)])")
    assert repr(model.conv) == "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))"
    quantizer.unwrap_model()
    assert repr(model.fc).endswith("bias=True, [swiftcompress: pruned weight (L1NormPruner)])")
    pruner.unwrap_model()
    assert repr(model) == plain and "extra_repr" not in model.fc.__dict__
    relu = nn.Sequential(nn.ReLU())
    PtqQuantizer(relu, [{"op_types": ["ReLU"], "target_names": ["_output_"], "quant_dtype": "int8"}])
    assert repr(relu[0]) == "ReLU([swiftcompress: quantized _output_0 (PtqQuantizer)])"


def test_bypass_leaves_the_target_unchanged_as_nni() -> None:
    from nni.compression.pruning import L1NormPruner as NniL1

    config = [{"op_names": ["conv"], "sparse_ratio": 0.5, "apply_method": "bypass"},
              {"op_names": ["fc"], "target_names": ["weight"], "sparse_ratio": 0.5}]
    model, x = net(), data()
    nni_model = copy.deepcopy(model)
    _, masks = L1NormPruner(model, config).compress()
    NniL1(nni_model, copy.deepcopy(config)).compress()
    with torch.no_grad():
        ours, theirs = model(x), nni_model(x)
        assert torch.equal(ours, theirs)
        assert torch.equal(ours, masked(model, {"fc": masks["fc"]})(x))  # conv unpruned, fc masked
    assert int((masks["conv"]["weight"] == 0).sum()) == 2 * 3 * 3 * 3  # the mask is computed all the same


class KeywordNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(input=torch.relu(self.fc1(x)))  # fc2's input passed by keyword


def test_quantizing_a_pruned_model_and_exporting_it() -> None:
    torch.manual_seed(0)
    model = KeywordNet().eval()
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    pruner = L1NormPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    _, masks = pruner.compress()
    with torch.no_grad():
        hidden = torch.relu(model.fc1(x))  # pruned, not quantized: what fc2 gets while calibrating
    quantizer = PtqQuantizer(model, [{"op_types": ["Linear"], "target_names": ["_input_", "weight"],
                                      "quant_dtype": "int8"}])
    quantizer.calibrate([x])
    _, config = quantizer.compress()
    # the pruner's wrapper does not hide fc2's signature: `input=` is found as _input_0
    assert torch.equal(config["fc2"]["_input_0"]["tracked_max"], hidden.amax())
    assert repr(model.fc2).endswith("[swiftcompress: pruned weight, bias (L1NormPruner); quantized weight, "
                                    "_input_0 (PtqQuantizer)])")
    with torch.no_grad():
        wrapped = model(x)
        assert torch.equal(torch.export.export(model, (x,)).module()(x), wrapped)
        assert torch.equal(copy.deepcopy(model)(x), wrapped)
    quantizer.unwrap_model()
    pruner.unwrap_model()
    assert all("forward" not in m.__dict__ and "extra_repr" not in m.__dict__ for m in model.modules())
