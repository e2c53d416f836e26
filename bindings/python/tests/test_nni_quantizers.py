"""The evaluator-driven quantizers against NNI 3.0, run in this process on deep copies of one model
with the same seeds and synthetic data, each side with its own NNI ``TorchEvaluator`` (same
training function): PtqQuantizer / QATQuantizer through ``compress(max_steps, max_epochs)``,
LsqQuantizer, LsqPlusQuantizer, DoReFaQuantizer and BNNQuantizer.

Equality: calibration configs and per-step losses bit for bit where every value is an element
operation (PTQ, QAT, BNN, the first LSQ / LSQ+ / DoReFa forward). After the first optimizer step
LSQ / LSQ+ scales come from a sum over the tensor, which the core accumulates in double and torch
in float32 in its own order: losses and scales are compared with rtol 1e-5 there (docs/quantization.md,
"Training-time quantizers"). DoReFa: rtol 1e-6 for tanh (libm vs torch's kernel, 1 ulp); with input
targets and NNI's gradient quantization (per-sample noise from torch's generator, the same draws on
both sides) over several steps.
Also the gradients of the core's autograd Functions against torch autograd of NNI's formulas.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Callable, Dict, List, Tuple

import nni
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from nni.compression.quantization import BNNQuantizer as NniBnn
from nni.compression.quantization import DoReFaQuantizer as NniDoReFa
from nni.compression.quantization import LsqPlusQuantizer as NniLsqPlus
from nni.compression.quantization import LsqQuantizer as NniLsq
from nni.compression.quantization import PtqQuantizer as NniPtq
from nni.compression.quantization import QATQuantizer as NniQat
from nni.compression.utils import TorchEvaluator

from swiftcompress import _core
from swiftcompress import utils as sc_utils
from swiftcompress import errors as swiftcompress_errors
from swiftcompress.errors import InvalidArgumentError, QuantizationError, StateError
from swiftcompress.quantization import (BNNQuantizer, DoReFaQuantizer, LsqPlusQuantizer, LsqQuantizer, PtqQuantizer,
                                        QATQuantizer)
from swiftcompress.quantization._training import _DoReFaWeight, _Lsq
from swiftcompress._tensors import spec

logging.getLogger("nni").setLevel(logging.ERROR)
logging.getLogger("swiftcompress").setLevel(logging.ERROR)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


def make(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return Net()


def data(steps: int = 4) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    return [(torch.randn(6, 8, generator=g) * (1 + 0.5 * i), torch.randn(6, 4, generator=g)) for i in range(steps)]


def evaluator_for(batches: List[Tuple[torch.Tensor, torch.Tensor]], losses: List[float], lr: float = 0.05,
                  ours: bool = False) -> Callable[[nn.Module], Any]:
    """A builder of NNI's TorchEvaluator (``ours``: swiftcompress.utils.TorchEvaluator with its trace)."""
    def training_step(batch, model, *args, **kwargs):
        x, y = batch
        return F.mse_loss(model(x), y)

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        model.train()
        for batch in batches[:max_steps]:
            optimizers.zero_grad()
            loss = training_step(batch, model)
            losses.append(loss.detach().clone())
            loss.backward()
            optimizers.step()

    def build(model: nn.Module) -> Any:
        if ours:
            optimizer = sc_utils.trace(torch.optim.SGD)(model.parameters(), lr=lr)
            return sc_utils.TorchEvaluator(training_func, optimizer, training_step)
        optimizer = nni.trace(torch.optim.SGD)(model.parameters(), lr=lr)
        return TorchEvaluator(training_func, optimizer, training_step)

    return build


def run_both(ours_cls: Any, nni_cls: Any, config_list: List[Dict[str, Any]], steps: int = 4,
             our_evaluator: bool = False, **kwargs: Any):
    batches = data(steps)
    model = make()
    reference = copy.deepcopy(model)
    our_losses: List[torch.Tensor] = []
    nni_losses: List[torch.Tensor] = []
    ours = ours_cls(model, copy.deepcopy(config_list), evaluator_for(batches, our_losses, ours=our_evaluator)(model),
                    **kwargs)
    theirs = nni_cls(reference, copy.deepcopy(config_list), evaluator_for(batches, nni_losses)(reference), **kwargs)
    torch.manual_seed(123)  # the same random stream for both runs (DoReFa's gradient noise)
    _, our_config = ours.compress(max_steps=steps, max_epochs=None)
    torch.manual_seed(123)
    _, nni_config = theirs.compress(max_steps=steps, max_epochs=None)
    return ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


CONFIG = [{"op_names": ["fc1", "fc2"], "target_names": ["_input_", "weight", "_output_"], "quant_dtype": "int8",
           "quant_scheme": "affine"}]


@pytest.mark.parametrize("our_evaluator", [False, True])
def test_ptq_with_evaluator_matches_nni(our_evaluator: bool) -> None:
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        PtqQuantizer, NniPtq, CONFIG, our_evaluator=our_evaluator)
    assert len(our_losses) == len(nni_losses) == 4
    assert all(same(a, b) for a, b in zip(our_losses, nni_losses))
    assert ours.is_compressed and theirs.is_compressed
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            mine = our_config[module][target]
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                assert same(mine[key], entry[key]), (module, target, key, mine[key], entry[key])
            for key in ("quant_dtype", "quant_scheme", "quant_bits"):
                assert mine[key] == entry[key]
    x = data(1)[0][0]
    assert torch.equal(model(x), reference(x))  # the fake-quantized forward after compress


@pytest.mark.parametrize("start,our_evaluator", [(0, False), (2, False), (2, True)])
def test_qat_with_evaluator_matches_nni(start: int, our_evaluator: bool) -> None:
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        QATQuantizer, NniQat, CONFIG, our_evaluator=our_evaluator, quant_start_step=start)
    assert ours.current_step == theirs.current_step == 4
    assert all(same(a, b) for a, b in zip(our_losses, nni_losses))
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                assert same(our_config[module][target][key], entry[key]), (module, target, key)
    assert torch.equal(model.fc1.weight, reference.fc1._nni_wrapper.weight if hasattr(reference.fc1, "_nni_wrapper")
                       else reference.fc1.weight)


LSQ_CONFIG = [{"op_names": ["fc1", "fc2"], "target_names": ["_input_", "weight"], "quant_dtype": "int8",
               "quant_scheme": "symmetric"}]
LSQP_CONFIG = [{"op_names": ["fc1", "fc2"], "target_names": ["_input_", "weight"], "quant_dtype": "uint8",
                "quant_scheme": "affine"}]


@pytest.mark.parametrize("ours_cls,nni_cls,config,our_evaluator", [
    (LsqQuantizer, NniLsq, LSQ_CONFIG, False), (LsqPlusQuantizer, NniLsqPlus, LSQP_CONFIG, False),
    (LsqQuantizer, NniLsq, LSQ_CONFIG, True), (LsqPlusQuantizer, NniLsqPlus, LSQP_CONFIG, True)])
def test_lsq_matches_nni(ours_cls: Any, nni_cls: Any, config: List[Dict[str, Any]], our_evaluator: bool) -> None:
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        ours_cls, nni_cls, config, our_evaluator=our_evaluator)
    assert len(our_losses) == 4
    # first step: scale 0.01 (and zp) on both sides, every value an element operation
    assert same(our_losses[0], nni_losses[0])
    # later steps: the scale gradient is a sum (double here, float32 in torch)
    torch.testing.assert_close(torch.stack(our_losses), torch.stack(nni_losses), rtol=1e-5, atol=0)
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            mine = our_config[module][target]
            assert mine["scale"].shape == entry["scale"].shape == (1,)
            torch.testing.assert_close(mine["scale"], entry["scale"].detach(), rtol=1e-5, atol=0)
            assert float(mine["scale"]) != 0.01  # trained
            if ours_cls is LsqPlusQuantizer:
                torch.testing.assert_close(mine["zero_point"], entry["zero_point"].detach(), rtol=1e-5, atol=0)
    params = ours.learnable_parameters()
    assert set(params) == {"fc1", "fc2"} and all(len(v) == (4 if ours_cls is LsqPlusQuantizer else 2)
                                                 for v in params.values())


@pytest.mark.parametrize("our_evaluator", [False, True])
def test_bnn_matches_nni(our_evaluator: bool) -> None:
    config = [{"op_names": ["fc1", "fc2"], "target_names": ["weight"], "quant_dtype": "int8"},
              {"op_names": ["relu"], "target_names": ["_output_"], "quant_dtype": "int8"}]
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        BNNQuantizer, NniBnn, config, our_evaluator=our_evaluator)
    assert all(same(a, b) for a, b in zip(our_losses, nni_losses)), (our_losses, nni_losses)
    w_nni = reference.fc1._nni_wrapper.weight if hasattr(reference.fc1, "_nni_wrapper") else reference.fc1.weight
    assert torch.equal(model.fc1.weight.detach(), w_nni.detach())
    assert float(model.fc1.weight.abs().max()) <= 1.0  # clipped after each step


def test_dorefa_first_forward_matches_nni() -> None:
    config = [{"op_names": ["fc1", "fc2"], "target_names": ["weight"], "quant_dtype": "uint8", "quant_scheme": "affine"},
              {"op_names": ["relu"], "target_names": ["_output_"], "quant_dtype": "uint8", "quant_scheme": "affine"}]
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        DoReFaQuantizer, NniDoReFa, config, steps=1)
    torch.testing.assert_close(our_losses[0], nni_losses[0], rtol=1e-6, atol=0)
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            assert same(our_config[module][target]["scale"], entry["scale"])
            assert same(our_config[module][target]["zero_point"], entry["zero_point"])


def test_dorefa_inputs_and_gradient_quantization_match_nni() -> None:
    # NNI's dorefa_example shape: inputs and weights quantized, no output target on fc1 / fc2, so both
    # get NNI's gradient quantization hook (noise drawn in the same order on both sides)
    config = [{"op_names": ["fc1", "fc2"], "target_names": ["_input_", "weight"], "quant_dtype": "int8",
               "quant_scheme": "affine"}]
    ours, theirs, our_losses, nni_losses, our_config, nni_config, model, reference = run_both(
        DoReFaQuantizer, NniDoReFa, config, steps=3)
    assert len(our_losses) == 3
    torch.testing.assert_close(torch.stack(our_losses), torch.stack(nni_losses), rtol=1e-6, atol=0)
    assert len(ours._gradient_hooks) == 2
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            mine = our_config[module][target]
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                torch.testing.assert_close(mine[key], entry[key].detach().float(), rtol=1e-6, atol=0)
    assert float(our_config["fc1"]["_input_0"]["scale"]) != float(our_config["fc1"]["weight"]["scale"])
    ours.unwrap_model()
    assert ours._gradient_hooks == []


def test_dorefa_gradient_kernel_matches_nni_formula() -> None:
    # NNI 3.0's quant_dequant_gradient, written out in torch (float32), against the core's kernel
    torch.manual_seed(3)
    g = torch.randn(3, 5)
    g[2] = 0.0  # an all-zero sample: 0 / 0 = NaN on both sides
    noise = torch.zeros(3, 1).uniform_(-0.5, 0.5)
    bits, qmin, qmax = 8, -127, 127
    tmax = torch.tensor(1.0 + 0.5 / (2 ** bits - 1))
    tmin = torch.tensor(0 - 0.5 / (2 ** bits - 1))
    scale = torch.max((tmax - tmin) / float(qmax - qmin), torch.tensor(torch.finfo(torch.float32).eps))
    zp = torch.clamp(qmin - torch.round(tmin / scale), qmin, qmax)
    m = torch.amax(g.abs(), dim=[1], keepdim=True)
    q = g / (2 * m) + 0.5 + noise / (2 ** bits - 1)
    expected = ((torch.round(torch.clamp(zp + q / scale, qmin, qmax)) - zp) * scale - 0.5) * 2 * m
    out = torch.empty_like(g)
    _core.dorefa_gradient(spec(g), spec(noise), bits, qmin, qmax, spec(out))
    assert torch.equal(out[:2], expected[:2])
    assert torch.isnan(out[2]).all() and torch.isnan(expected[2]).all()


def test_dorefa_weight_values_and_gradient_match_torch_autograd() -> None:
    torch.manual_seed(3)
    w = torch.randn(5, 7, requires_grad=True)
    g = torch.randn(5, 7)
    scale, zp = _core.trainable_initial_params(_core.SC_TRAIN_DOREFA, 0, 255)
    assert (scale, zp) == (float(torch.tensor(1.0) / 255.0), 0.0)
    ours = _DoReFaWeight.apply(w, scale, zp, 0, 255)
    ours.backward(g)
    mine = w.grad.clone()
    w.grad = None

    class STE(torch.autograd.Function):  # NNI's ClampRound, the torch reference
        @staticmethod
        def forward(ctx, y):
            return (torch.round(torch.clamp(zp + y / scale, 0, 255)) - zp) * scale

        @staticmethod
        def backward(ctx, grad):
            return grad

    u = w.tanh()
    ref = 2 * STE.apply(u / (2 * u.abs().max()) + 0.5) - 1
    ref.backward(g)
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mine, w.grad, rtol=1e-5, atol=1e-7)


def test_lsq_function_hand_values() -> None:
    # x / 0.5 = [-300, -1.2, 0.6, 1.0, 300]; int8 range [-127, 127]; f = 1 / sqrt(127 * 5)
    x = torch.tensor([-150.0, -0.6, 0.3, 0.5, 150.0], requires_grad=True)
    s = torch.tensor([0.5], requires_grad=True)
    out = _Lsq.apply(x, s, None, -127, 127)
    assert out.tolist() == [-63.5, -0.5, 0.5, 0.5, 63.5]
    out.backward(torch.ones(5))
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    # middle terms -q + round(q): 1.2 - 1 = 0.2, -0.6 + 1 = 0.4, 0; clamped ends -127 and +127 cancel
    assert float(s.grad) == pytest.approx(0.6 / (127 * 5) ** 0.5, rel=1e-6)


def test_errors_name_the_argument() -> None:
    with pytest.raises(InvalidArgumentError, match="evaluator: expected an Evaluator"):
        QATQuantizer(make(), CONFIG, object())
    with pytest.raises(InvalidArgumentError, match="evaluator: expected an Evaluator"):
        LsqQuantizer(make(), LSQ_CONFIG, 3)
    with pytest.raises(InvalidArgumentError, match="quant_start_step: expected an int"):
        QATQuantizer(make(), CONFIG, None, 1.5)
    with pytest.raises(InvalidArgumentError, match="existed_wrappers"):
        PtqQuantizer(make(), CONFIG, None, {})
    with pytest.raises(QuantizationError, match="is_bias_correction"):
        PtqQuantizer(make(), CONFIG, None, None, True)
    with pytest.raises(StateError, match="without one"):
        LsqQuantizer(make(), LSQ_CONFIG)._fusion_compress(1, None)
    with pytest.raises(InvalidArgumentError, match="max_steps and max_epochs must be None"):
        LsqQuantizer(make(), LSQ_CONFIG).compress(max_steps=2)
    with pytest.raises(QuantizationError, match="granularity"):
        LsqQuantizer(make(), [{"op_names": ["fc1"], "target_names": ["weight"], "granularity": "out_channel"}])
    with pytest.raises(QuantizationError, match="only supported for activation"):
        DoReFaQuantizer(make(), [{"op_names": ["fc1"], "target_names": ["_output_"], "quant_scheme": "affine"}])
    with pytest.raises(QuantizationError, match="needs quant_scheme"):
        DoReFaQuantizer(make(), [{"op_names": ["fc1"], "target_names": ["weight"]}])
    q = LsqQuantizer(make(), LSQ_CONFIG)
    with pytest.raises(InvalidArgumentError, match=r"calibration_config\['fc9'\]"):
        q.update_calibration_config({"fc9": {"weight": {"scale": 1.0, "zero_point": 0.0}}})
    q.update_calibration_config({"fc1": {"weight": {"scale": torch.tensor([0.25]), "zero_point": 0.0, "quant_bits": 8}}})
    q.step()  # initialised: the forward keeps the given scale
    assert q.get_calibration_config()["fc1"]["weight"]["scale"].tolist() == [0.25]
    x, zero, out = torch.ones(2), torch.zeros(1), torch.empty(2)  # alive during the calls
    with pytest.raises(QuantizationError, match="scale is 0.0"):
        _core.lsq_forward(_spec(x), _spec(zero), None, -127, 127, _spec(out))
    with pytest.raises(InvalidArgumentError, match="qmin 5, qmax 5"):
        _core.lsq_forward(_spec(x), _spec(x[:1]), None, 5, 5, _spec(out))
    with pytest.raises(swiftcompress_errors.ShapeError, match="scale has 2 element"):
        _core.lsq_forward(_spec(x), _spec(x), None, -127, 127, _spec(out))


def _spec(t: torch.Tensor) -> Any:
    from swiftcompress._tensors import spec
    return spec(t)


def test_from_compressor_fuses_two_quantizers_as_nni() -> None:
    """PtqQuantizer on fc1, then QATQuantizer.from_compressor on fc2: one evaluator run drives both."""
    ptq_config = [dict(CONFIG[0], op_names=["fc1"])]
    qat_config = [dict(CONFIG[0], op_names=["fc2"])]
    batches = data(4)
    model = make()
    reference = copy.deepcopy(model)
    our_losses: List[torch.Tensor] = []
    nni_losses: List[torch.Tensor] = []
    ptq = PtqQuantizer(model, copy.deepcopy(ptq_config), evaluator_for(batches, our_losses)(model))
    qat = QATQuantizer.from_compressor(ptq, copy.deepcopy(qat_config), quant_start_step=1)
    assert qat.evaluator is ptq.evaluator and qat.fused_compressors == [qat, ptq]
    nni_ptq = NniPtq(reference, copy.deepcopy(ptq_config), evaluator_for(batches, nni_losses)(reference))
    nni_qat = NniQat.from_compressor(nni_ptq, copy.deepcopy(qat_config), quant_start_step=1)
    _, ours = qat.compress(max_steps=4, max_epochs=None)
    _, theirs = nni_qat.compress(max_steps=4, max_epochs=None)
    assert all(same(a, b) for a, b in zip(our_losses, nni_losses)) and len(our_losses) == 4
    assert ptq.is_compressed and qat.current_step == nni_qat.current_step == 4
    merged = dict(ptq.get_calibration_config())
    merged.update(ours)
    assert set(merged) == set(theirs) == {"fc1", "fc2"}
    for module, targets in theirs.items():
        for target, entry in targets.items():
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                assert same(merged[module][target][key], entry[key]), (module, target, key)


def test_track_forward_observes_like_nni() -> None:
    x = data(1)[0][0]
    model = make()
    reference = copy.deepcopy(model)
    ours = QATQuantizer(model, copy.deepcopy(CONFIG))
    theirs = NniQat(reference, copy.deepcopy(CONFIG), evaluator_for([], [])(reference))
    model.train()
    reference.train()
    ours.track_forward(x)
    theirs.track_forward(x)
    mine, nni_config = ours.get_calibration_config(), theirs.get_calibration_config()
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            assert same(mine[module][target]["tracked_min"], entry["tracked_min"])
            assert same(mine[module][target]["tracked_max"], entry["tracked_max"])


class ConvBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.fc = nn.Linear(4 * 6 * 6, 6)
        self.bn2 = nn.BatchNorm1d(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.fc(self.relu1(self.bn1(self.conv1(x))).flatten(1)))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_ptq_fuse_names_matches_nni(mode: str) -> None:
    """conv-bn-relu and linear-bn folding in calibration (running statistics updated by the batch
    norm's own forward in training mode, as NNI's fusion does) and in the compressed forward."""
    config = [{"op_names": ["conv1"], "target_names": ["_input_", "weight", "_output_"], "quant_dtype": "int8",
               "quant_scheme": "affine", "fuse_names": [("conv1", "bn1", "relu1")]},
              {"op_names": ["fc"], "target_names": ["weight", "bias"], "quant_dtype": "int8",
               "quant_scheme": "symmetric", "fuse_names": [("fc", "bn2")]}]
    torch.manual_seed(0)
    model = ConvBN()
    with torch.no_grad():  # non-trivial batch-norm state
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2), bn.running_var.uniform_(0.5, 2)
    getattr(model, mode)()
    reference = copy.deepcopy(model)
    g = torch.Generator().manual_seed(3)
    batches = [torch.randn(4, 3, 8, 8, generator=g) * (1 + i) for i in range(3)]
    ours = PtqQuantizer(model, copy.deepcopy(config))
    ours.calibrate(batches)
    _, mine = ours.compress()

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        with torch.no_grad():
            for b in batches:
                model(b)

    optimizer = nni.trace(torch.optim.SGD)(reference.parameters(), lr=0.1)
    evaluator = TorchEvaluator(training_func, optimizer, lambda batch, model: model(batch).sum())
    theirs = NniPtq(reference, copy.deepcopy(config), evaluator)
    _, nni_config = theirs.compress(max_steps=1, max_epochs=None)
    for bn in ("bn1", "bn2"):
        for stat in ("running_mean", "running_var"):
            assert torch.equal(getattr(getattr(model, bn), stat), getattr(getattr(reference, bn), stat)), (bn, stat)
    for module, targets in nni_config.items():
        for target, entry in targets.items():
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                assert same(mine[module][target][key], entry[key]), (module, target, key)
    x = torch.randn(4, 3, 8, 8, generator=g)
    model.eval(), reference.eval()
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    ours.unwrap_model()
    assert model.bn1(torch.ones(1, 4, 2, 2)).shape == (1, 4, 2, 2) and model.conv1.bias is not None


FUSE_CONFIG = [{"op_names": ["conv1"], "target_names": ["_input_", "weight", "_output_"], "quant_dtype": "int8",
                "quant_scheme": "affine", "fuse_names": [("conv1", "bn1", "relu1")]},
               {"op_names": ["fc"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "affine",
                "fuse_names": [("fc", "bn2")]}]


def conv_bn_data(steps: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(11)
    return [(torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 6, generator=g)) for _ in range(steps)]


@pytest.mark.parametrize("ours_cls,nni_cls,kwargs", [(QATQuantizer, NniQat, {"quant_start_step": 1}),
                                                     (LsqQuantizer, NniLsq, {})])
def test_training_through_fuse_names_matches_nni(ours_cls: Any, nni_cls: Any, kwargs: Dict[str, Any]) -> None:
    """Training through the fold: gradients for the weight, bias and batch norm from the core's
    fold backward (per-channel sums in double: rtol 1e-5)."""
    batches = conv_bn_data(4)
    torch.manual_seed(0)
    model = ConvBN()
    reference = copy.deepcopy(model)
    our_losses: List[torch.Tensor] = []
    nni_losses: List[torch.Tensor] = []
    config = FUSE_CONFIG if ours_cls is QATQuantizer else [dict(c, quant_scheme="symmetric") for c in FUSE_CONFIG]
    ours = ours_cls(model, copy.deepcopy(config), evaluator_for(batches, our_losses)(model), **kwargs)
    theirs = nni_cls(reference, copy.deepcopy(config), evaluator_for(batches, nni_losses)(reference), **kwargs)
    ours.compress(max_steps=4, max_epochs=None)
    theirs.compress(max_steps=4, max_epochs=None)
    assert len(our_losses) == len(nni_losses) == 4
    assert same(our_losses[0], nni_losses[0])
    torch.testing.assert_close(torch.stack(our_losses), torch.stack(nni_losses), rtol=1e-5, atol=0)
    torch.testing.assert_close(model.bn1.weight.detach(), reference.bn1.weight.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(model.bn1.running_mean, reference.bn1.running_mean, rtol=1e-5, atol=1e-7)


def test_fuse_names_errors() -> None:
    with pytest.raises(QuantizationError, match="fusing the ReLU needs an output target"):
        PtqQuantizer(ConvBN(), [{"op_names": ["conv1"], "target_names": ["weight"],
                                 "fuse_names": [("conv1", "bn1", "relu1")]}])
    with pytest.raises(QuantizationError, match="needs to be quantized"):
        PtqQuantizer(ConvBN(), [{"op_names": ["conv1"], "target_names": ["_input_"], "fuse_names": [("conv1", "bn1")]}])
